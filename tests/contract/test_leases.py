"""Leases in the counters (`services.leases`), and the family's upload gate built on them
(`services.card_uploads.upload_gate`), on every side: [local] SQLite, [aws] DynamoDB on
moto, [memory] the fake. Each `reopen()` is another process over the same store. Slices
run on a manual clock (the counters' own expiry on the real one outlasts them), so a
lease's hours pass in milliseconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from core.errors import BackendUnavailable
from core.ports import Records
from core.settings import Settings
from services.card_uploads import SLOT_SLICE_S, SLOTS_KEY, upload_gate
from services.leases import CountedLease, Lease
from tests.contract import test_records as base

aws_settings, reopen, records = base.aws_settings, base.reopen, base.records
SLICE_S = 60.0


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0  # a slice's start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _lease(records: Records, clock: Clock, key: str = "card-sync:c1:7") -> Lease:
    return Lease(records.counters, key, slice_s=SLICE_S, clock=clock)


def test_one_holder_at_a_time_and_one_that_died_frees_the_lease_two_slices_on(
    reopen: Callable[[], Records], clock: Clock
) -> None:
    dead, other = _lease(reopen(), clock), _lease(reopen(), clock)
    assert dead.claim() and dead.held
    assert not other.claim()
    clock.advance(SLICE_S)  # the next slice was the holder's too
    assert not other.claim()
    clock.advance(SLICE_S - 1)
    assert not other.claim()
    clock.advance(1)  # two slices since the last the dead holder took
    assert other.claim() and other.held and not dead.held


def test_a_renewed_lease_outlives_many_slices_and_a_release_frees_it_at_once(
    reopen: Callable[[], Records], clock: Clock
) -> None:
    holder, other = _lease(reopen(), clock), _lease(reopen(), clock)
    assert holder.claim()
    for _ in range(30):  # ten slices, renewed every third of one
        clock.advance(SLICE_S / 3)
        assert holder.renew() and holder.held
        assert not other.claim()
    holder.release()
    assert not holder.held
    assert other.claim()


def test_a_holder_that_stalled_past_its_slices_learns_it_lost_and_cannot_free_the_new_holders(
    reopen: Callable[[], Records], clock: Clock
) -> None:
    stalled, taker, third = _lease(reopen(), clock), _lease(reopen(), clock), _lease(reopen(), clock)
    assert stalled.claim()
    clock.advance(2 * SLICE_S + 5)
    assert taker.claim()
    assert not stalled.renew() and not stalled.held
    stalled.release()  # lets go of nothing it does not hold
    assert not third.claim() and taker.held


def test_leases_of_different_keys_do_not_meet(reopen: Callable[[], Records], clock: Clock) -> None:
    a, b = _lease(reopen(), clock, "card-sync:c1:7"), _lease(reopen(), clock, "card-sync:c1:8")
    assert a.claim() and b.claim()


def test_a_counted_lease_has_at_most_its_slots_across_processes_and_a_waiter_gives_up_saying_why(
    reopen: Callable[[], Records], clock: Clock
) -> None:
    held: list[Lease] = []

    def wait(seconds: float) -> None:  # the waiter's poll: time passes, the holders renew as they should
        clock.advance(seconds)
        assert all(lease.renew() for lease in held)

    def gate() -> CountedLease:
        counters = reopen().counters
        return CountedLease(
            counters, "yoto-uploads", 2, slice_s=SLICE_S, wait_s=300, poll_s=30, clock=clock, sleep=wait
        )

    one, two, three = gate(), gate(), gate()
    first, second = one.try_take(), two.try_take()
    assert first is not None and second is not None and first.key != second.key
    held += [first, second]
    assert three.try_take() is None
    started = clock()
    with pytest.raises(BackendUnavailable, match="all 2 of the family's upload slots stayed busy") as refused:
        three.take()
    assert 270 <= clock() - started <= 300, "it waited its time, renewing holders and all"
    assert refused.value.headers["Retry-After"] == "60"
    first.release()
    got = three.try_take()
    assert got is not None and got.key == first.key


def test_a_slot_whose_worker_died_comes_free_two_slices_on(reopen: Callable[[], Records], clock: Clock) -> None:
    settings = Settings(yoto_uploads_at_once=2)
    crashed, waiting = (upload_gate(reopen().counters, settings, clock=clock) for _ in range(2))
    assert crashed.try_take() is not None and crashed.try_take() is not None  # both slots, never let go
    assert waiting.try_take() is None
    clock.advance(2 * SLOT_SLICE_S)
    assert waiting.try_take() is not None and waiting.try_take() is not None
    assert waiting.try_take() is None


def test_uploads_through_two_processes_gates_never_run_more_than_two_at_once(reopen: Callable[[], Records]) -> None:
    """Real threads and the real clock: eight uploads from two processes, each holding its slot 50 ms."""
    settings = Settings(yoto_uploads_at_once=2)
    gates = [upload_gate(reopen().counters, settings, poll_s=0.01) for _ in range(2)]
    assert all((g.key, g.slots) == (SLOTS_KEY, 2) for g in gates)
    running, most, lock = [0], [0], threading.Lock()

    def upload(n: int) -> None:
        with gates[n % 2]:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    workers = [threading.Thread(target=upload, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert not any(w.is_alive() for w in workers)
    assert most[0] == 2 and running[0] == 0
    for g in gates:  # every slot was let go
        held = [g.try_take(), g.try_take()]
        assert all(held) and g.try_take() is None
        for lease in held:
            assert lease is not None
            lease.release()
