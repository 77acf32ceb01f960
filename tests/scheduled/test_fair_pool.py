"""The workers' rules (`services.jobs`) on real threads: the order a batch runs
in, one run at a time per key, no owner holding every worker, the member's
cap, and what a stop leaves behind."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import BackendUnavailable, RateLimited
from core.records import Run
from services.jobs import Due, FairPool, Lane, fair_order, new_run
from tests.waiting import eventually

T0 = datetime(2026, 6, 1, 19, 30, tzinfo=UTC)


def _due(kind: str, owner: str, at: datetime, name: str) -> Due:
    return Due(Run(id=name, owner=owner, subject_id=name, kind=kind, trigger="schedule"), at)


def test_a_batch_runs_routines_first_then_by_due_minute_then_owners_in_turn() -> None:
    batch = [
        _due("podcast", "mum", T0 - timedelta(hours=1), "p1"),
        _due("routine", "mum", T0 + timedelta(seconds=10), "m1"),
        _due("routine", "mum", T0 + timedelta(seconds=20), "m2"),
        _due("routine", "mum", T0 + timedelta(seconds=30), "m3"),
        _due("routine", "kid", T0 + timedelta(seconds=40), "k1"),
        _due("routine", "dad", T0 - timedelta(minutes=2), "late"),
        _due("routine", "kid", T0 + timedelta(seconds=50), "k2"),
    ]
    assert [d.run.id for d in fair_order(batch)] == ["late", "k1", "m1", "k2", "m2", "m3", "p1"]


class Gate:
    """An `execute` that records what started and holds each run until let go."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.running: set[str] = set()
        self.most_at_once: dict[str, int] = {}
        self.go: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def __call__(self, run_id: str) -> None:
        owner = run_id.split("-")[0]
        with self.lock:
            self.started.append(run_id)
            self.running.add(run_id)
            mine = sum(1 for r in self.running if r.startswith(owner + "-"))
            self.most_at_once[owner] = max(self.most_at_once.get(owner, 0), mine)
            gate = self.go.setdefault(run_id, threading.Event())
        gate.wait(10)
        with self.lock:
            self.running.discard(run_id)

    def release(self, run_id: str) -> None:
        with self.lock:
            self.go.setdefault(run_id, threading.Event()).set()


def _run(run_id: str, kind: str = "podcast", trigger: str = "manual") -> Run:
    return Run(id=run_id, owner=run_id.split("-")[0], subject_id=run_id, kind=kind, trigger=trigger)


def test_one_owner_never_holds_every_worker_and_a_key_runs_once_at_a_time() -> None:
    gate = Gate()
    pool = FairPool(gate, {"podcast": Lane(3, by_due=False)})
    for n in range(4):
        pool.submit(_run(f"eve-{n}"))
    pool.submit(_run("eve-4"), key="shared")
    pool.submit(_run("kid-0"), key="shared")  # same key as eve-4: never together
    eventually(lambda: len(gate.started) == 3, 5)
    assert "kid-0" in gate.started  # his starts at once: she may hold two of the three workers
    assert len(gate.running) == 3 and pool.pending() == 6
    while len(gate.started) < 6:  # let each run end as soon as it has started
        for run_id in list(gate.started):
            gate.release(run_id)
        time.sleep(0.01)
    for run_id in gate.started:
        gate.release(run_id)
    assert pool.join(5)
    assert gate.most_at_once["eve"] == 2  # of three workers
    assert gate.started.index("eve-4") > gate.started.index("kid-0")  # the key waited for kid-0 to end


def test_the_members_cap_counts_waiting_and_running_and_spares_scheduled_runs() -> None:
    gate = Gate()
    pool = FairPool(gate, {"podcast": Lane(1)}, per_member=2)
    pool.submit(_run("eve-0"))
    pool.submit(_run("eve-1"))
    with pytest.raises(RateLimited) as refused:
        pool.submit(_run("eve-2"))
    assert refused.value.headers["Retry-After"].isdigit() and "JOBS_PER_MEMBER = 2" in str(refused.value)
    assert pool.submit(_run("eve-3", trigger="schedule"), capped=False)
    assert pool.submit(_run("kid-0"))
    assert pool.pending("eve") == 3 and pool.pending() == 4
    for run_id in ("eve-0", "eve-1", "eve-3", "kid-0"):
        gate.release(run_id)
    assert pool.join(5) and pool.pending() == 0


def test_a_stop_ends_what_waits_and_what_outlives_the_grace() -> None:
    gate = Gate()
    ended: dict[str, str] = {}
    pool = FairPool(gate, {"routine": Lane(1)}, interrupt=lambda run_id, detail: ended.__setitem__(run_id, detail))
    pool.submit(new_run("routine", "r1", "mum", "manual"), key="player:a")
    eventually(lambda: gate.started, 5)
    first = gate.started[0]
    waiting = new_run("routine", "r2", "mum", "manual")
    pool.submit(waiting, key="player:a")
    assert sorted(pool.stop(grace_s=0.2)) == sorted([first, waiting.id])
    assert ended[waiting.id].startswith("not started: the server stopped first")
    assert ended[first].startswith("interrupted: the server stopped while it ran")
    with pytest.raises(BackendUnavailable):
        pool.submit(new_run("routine", "r3", "mum", "manual"))
    gate.release(first)
