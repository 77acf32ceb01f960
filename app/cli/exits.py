"""The command line's exit codes and its one way to say an error."""

from __future__ import annotations

import sys

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
