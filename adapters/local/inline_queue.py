"""The local `RunQueue`: there is none; the caller runs the job in the request.

`make run` has no 30 s cut-off, so a podcast refresh answers 200 when it is
done. (On AWS without a worker function the factory hands this out too.)"""

from __future__ import annotations

from core.records import Run


class InlineRunQueue:
    def submit(self, run: Run) -> bool:
        return False
