"""Moving a family's install between the local side and AWS (`python -m app migrate`).

`run.migrate` copies users (`accounts`), audio items and their objects
(`objects`) and every other kind of record `kinds.COPIED` names, then verifies
the target against the source. docs/migration.md explains the guarantees.
"""

from services.migration.run import Options, Progress, Report, Side, migrate

__all__ = ["Options", "Progress", "Report", "Side", "migrate"]
