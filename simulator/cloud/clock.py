"""Wall-clock time that tests can move forward, so expiry is tested without sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


def iso(ts: float) -> str:
    """A Unix time as Yoto writes timestamps: "2025-01-02T03:04:05.678Z"."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


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
