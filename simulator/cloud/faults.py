"""Injected failures: the next N matching requests answer 429, 5xx or 401, hang, or drop.

Faults apply to the Yoto paths only (never to `/_sim/`), first queued first
served; a request takes at most one fault. With `after`, a 5xx, a drop or a
hang comes after the route has run (and stored): the answer is lost, not the work.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from simulator.cloud.uploads import TranscodeFault

KINDS = ("rate_limit", "server_error", "slow", "unauthorized", "disconnect")
AFTER_KINDS = ("server_error", "slow", "disconnect")


@dataclass
class Fault:
    kind: str
    count: int = 1
    path_prefix: str | None = None
    method: str | None = None
    status: int | None = None  # server_error: 500 by default
    retry_after: float | None = None  # rate_limit: Retry-After seconds (1 by default)
    delay_s: float = 0.0  # slow: seconds to wait before answering normally
    after: bool = False  # server_error, slow, disconnect: the route runs first
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}")
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if self.kind == "server_error" and self.status is not None and not 500 <= self.status <= 599:
            raise ValueError("a server_error status must be 5xx")
        if self.kind == "slow" and self.delay_s <= 0:
            raise ValueError("a slow fault needs delay_s > 0")
        if self.after and self.kind not in AFTER_KINDS:
            raise ValueError(f"only {', '.join(AFTER_KINDS)} can come after the route has run")
        if self.method:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._pending.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._pending:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.hits >= fault.count:
                        self._pending.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._pending)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


class FaultShortcuts:
    """One-line fault helpers for anything with `fail_next` and `transcode_fault` (in-process and remote handles)."""

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> Fault:
        raise NotImplementedError

    def transcode_fault(
        self, kind: str, count: int = 1, *, upload_id: str | None = None, message: str | None = None
    ) -> TranscodeFault:
        raise NotImplementedError

    def fail_transcode(
        self, count: int = 1, *, upload_id: str | None = None, message: str | None = None
    ) -> TranscodeFault:
        """The next `count` transcodes (or that upload's) end failed: the poll answers 200 with status "failed"."""
        return self.transcode_fault("fail", count, upload_id=upload_id, message=message)

    def stall_transcode(self, count: int = 1, *, upload_id: str | None = None) -> TranscodeFault:
        """The next `count` transcodes (or that upload's) never finish: the poll answers 202 for ever."""
        return self.transcode_fault("stall", count, upload_id=upload_id)

    def rate_limit_next(
        self, count: int = 1, retry_after: float = 1, path_prefix: str | None = None, method: str | None = None
    ) -> Fault:
        """429 with Retry-After."""
        return self.fail_next("rate_limit", count, retry_after=retry_after, path_prefix=path_prefix, method=method)

    def server_error_next(
        self,
        count: int = 1,
        status: int = 500,
        path_prefix: str | None = None,
        method: str | None = None,
        *,
        after: bool = False,
    ) -> Fault:
        """A 5xx; with `after`, once the route has run (the request took effect, its answer is a 5xx)."""
        options = {"status": status, "path_prefix": path_prefix, "method": method, "after": after}
        return self.fail_next("server_error", count, **options)

    def slow_next(
        self,
        count: int = 1,
        delay_s: float = 1.0,
        path_prefix: str | None = None,
        method: str | None = None,
        *,
        after: bool = False,
    ) -> Fault:
        """Wait delay_s, then answer normally (for client timeouts); with `after`, run the route before waiting."""
        return self.fail_next("slow", count, delay_s=delay_s, path_prefix=path_prefix, method=method, after=after)

    def unauthorized_next(self, count: int = 1, path_prefix: str | None = None, method: str | None = None) -> Fault:
        """401 whatever the token."""
        return self.fail_next("unauthorized", count, path_prefix=path_prefix, method=method)

    def disconnect_next(
        self, count: int = 1, path_prefix: str | None = None, method: str | None = None, *, after: bool = False
    ) -> Fault:
        """Close the connection without an answer; with `after`, once the route has run."""
        return self.fail_next("disconnect", count, path_prefix=path_prefix, method=method, after=after)
