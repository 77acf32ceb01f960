"""Wall-clock time that tests can move forward, so expiry is tested without sleeping;
the instants cards carry (a chapter's `availableFrom`) read as Unix times."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

# An ISO 8601 date-time in the extended form, its offset (Z or ±hh:mm) required: one instant everywhere.
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})")


def iso(ts: float) -> str:
    """A Unix time as Yoto writes timestamps: "2025-01-02T03:04:05.678Z"."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def instant(text: object) -> float:
    """The Unix time of an ISO date-time with its offset ("2027-03-28T00:00:00Z", "…+01:00");
    ValueError for anything else (a bare date or a local time names no single instant)."""
    if not isinstance(text, str) or not INSTANT.fullmatch(text):
        raise ValueError(f"must be an ISO date-time with Z or an offset, such as 2026-12-01T00:00:00Z (got {text!r})")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ValueError(f"is not a real date-time ({exc}: got {text!r})") from None


class SimClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return time.time() + self._offset
