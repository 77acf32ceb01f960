"""Leases kept in the store's counters, so they hold across processes and Lambdas.

`Lease` has one holder at a time, `CountedLease` at most `slots`. A holder keeps
its lease for as long as it works by renewing it (`Renewal`), and one that dies
without letting go frees it within two slices (docs/cards.md, "Write leases").
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from core.errors import BackendUnavailable, VersionConflict
from core.ports import CounterRepository

log = logging.getLogger("yss.leases")


class Scheduled(Protocol):
    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Scheduled]


def start_timer(delay_s: float, action: Callable[[], None]) -> Scheduled:
    """Run `action` on a daemon thread after `delay_s` (the default scheduler)."""
    timer = threading.Timer(delay_s, action)
    timer.daemon = True
    timer.start()
    return timer


class Lease:
    """One holder of `key` at a time. Time runs in slices of `slice_s` on `clock`; the
    holder owns the slice it is in and the next (the first to add to a slice's counter
    owns it) and `renew` takes each next slice before it begins. A holder that stops
    renewing is outlived by the slice after its last: freed at most two slices on."""

    def __init__(
        self, counters: CounterRepository, key: str, *, slice_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if slice_s <= 0:
            raise ValueError(f"a lease's slice must be positive, not {slice_s}")
        self.key, self.slice_s = key, slice_s
        self._counters, self._clock = counters, clock
        self._ttl_s = math.ceil(2 * slice_s) + 1  # a slice taken in the one before lives to its own end
        self._held: set[int] = set()
        self._lost = False
        self._lock = threading.Lock()

    def _now_slice(self) -> int:
        return math.floor(self._clock() / self.slice_s)

    def _counter(self, n: int) -> str:
        return f"{self.key}@{n}"

    def _take(self, n: int) -> bool:
        try:
            return self._counters.add(self._counter(n), 1, ttl_s=self._ttl_s) == 1
        except VersionConflict:
            return False  # contended: someone else is taking it

    def claim(self) -> bool:
        """Take the lease; False while someone else holds it."""
        with self._lock:
            n = self._now_slice()
            if not self._take(n):
                return False
            if not self._take(n + 1):  # a holder whose clock runs ahead: not ours after all
                self._counters.reset(self._counter(n))
                return False
            self._held, self._lost = {n, n + 1}, False
            return True

    def renew(self) -> bool:
        """Keep the lease into the next slice; False once it was lost (another took a slice)."""
        with self._lock:
            if self._lost or not self._held:
                return False
            n = self._now_slice()
            for m in (n, n + 1):
                if m not in self._held and not self._take(m):
                    log.warning("the lease %s was lost at slice %d: another holder has it", self.key, m)
                    self._lost = True
                    return False
                self._held.add(m)
            self._held = {m for m in self._held if m >= n}
            return True

    @property
    def held(self) -> bool:
        with self._lock:
            return not self._lost and self._now_slice() in self._held

    def release(self) -> None:
        """Let go at once (the slices still to come; those past have ended anyway)."""
        with self._lock:
            n = self._now_slice()
            for m in sorted(self._held):
                if m >= n:
                    self._counters.reset(self._counter(m))
            self._held = set()

    def lapse(self) -> None:
        """Stop holding without letting go: the lease ends with the slices taken (what a
        finished write keeps, so a late twin of it does not write the same again)."""
        with self._lock:
            self._held = set()


class Renewal:
    """Renews a held lease every third of a slice through `schedule` until `stop`."""

    def __init__(self, lease: Lease, schedule: Schedule = start_timer) -> None:
        self._lease, self._schedule = lease, schedule
        self._lock = threading.Lock()
        self._timer: Scheduled | None = None
        self._stopped = False

    def start(self) -> Renewal:
        self._arm()
        return self

    def _arm(self) -> None:
        with self._lock:
            if not self._stopped:
                self._timer = self._schedule(self._lease.slice_s / 3, self._tick)

    def _tick(self) -> None:
        try:
            if not self._lease.renew():
                return
        except Exception:  # the store failed this once: the next tick tries again, a slice later at worst
            log.warning("the lease %s could not be renewed this time", self._lease.key, exc_info=True)
        self._arm()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()


class CountedLease:
    """At most `slots` holders of `key` at once, each a `Lease` on one slot, renewed
    while held. `with` it to hold a slot (each thread its own), waiting up to `wait_s`
    for one, polling every `poll_s`; `BackendUnavailable` when none came free."""

    def __init__(
        self,
        counters: CounterRepository,
        key: str,
        slots: int,
        *,
        slice_s: float = 60.0,
        wait_s: float = 900.0,
        poll_s: float = 2.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        schedule: Schedule = start_timer,
    ) -> None:
        self.key, self.slots = key, max(1, slots)
        self._counters, self._slice_s, self._clock = counters, slice_s, clock
        self._wait_s, self._poll_s, self._sleep, self._schedule = wait_s, poll_s, sleep, schedule
        self._mine = threading.local()

    def try_take(self) -> Lease | None:
        """A slot's lease if one is free now (slots tried from a random one, to spread the contention)."""
        first = random.randrange(self.slots)
        for i in range(self.slots):
            lease = Lease(
                self._counters, f"{self.key}#{(first + i) % self.slots}", slice_s=self._slice_s, clock=self._clock
            )
            if lease.claim():
                return lease
        return None

    def take(self) -> Lease:
        deadline = self._clock() + self._wait_s
        while True:
            lease = self.try_take()
            if lease is not None:
                return lease
            if self._clock() + self._poll_s > deadline:
                raise BackendUnavailable(
                    f"all {self.slots} of the family's upload slots stayed busy for {self._wait_s:.0f} s; try again",
                    headers={"Retry-After": "60"},
                )
            self._sleep(self._poll_s)

    def __enter__(self) -> Lease:
        lease = self.take()
        stack = self._stack()
        stack.append((lease, Renewal(lease, self._schedule).start()))
        return lease

    def __exit__(self, *_exc: object) -> None:
        lease, renewal = self._stack().pop()
        renewal.stop()
        lease.release()

    def _stack(self) -> list[tuple[Lease, Renewal]]:
        stack = getattr(self._mine, "stack", None)
        if stack is None:
            stack = self._mine.stack = []
        return stack
