"""The MQTT listener's heartbeat and the on-demand wake, on the memory records and a manual clock."""

from __future__ import annotations

from datetime import timedelta

from adapters.memory import MemoryRecords
from services import listener_health as lh
from tests.conftest import ManualClock

HEALTH = {"last_contact": "2026-03-01T18:00:00+00:00", "accounts": ["mum"], "connected_accounts": ["mum"], "counts": {}}


class Starter:
    def __init__(self) -> None:
        self.started = 0

    def start(self) -> None:
        self.started += 1


def _records(clock: ManualClock) -> MemoryRecords:
    return MemoryRecords(clock=clock.now)


def test_a_heartbeat_is_live_until_it_goes_stale_and_degraded_while_no_account_is_connected(
    manual_clock: ManualClock,
) -> None:
    settings = _records(manual_clock).settings
    assert lh.health(settings, manual_clock.now())["status"] == "down"
    lh.write_heartbeat(settings, HEALTH, mode="always", now=manual_clock.now)
    assert lh.health(settings, manual_clock.now())["status"] == "ok"
    lh.write_heartbeat(settings, {**HEALTH, "connected_accounts": []}, mode="always", now=manual_clock.now)
    assert lh.health(settings, manual_clock.now())["status"] == "degraded"
    manual_clock.advance(lh.STALE_AFTER_S)
    assert not lh.is_live(settings, manual_clock.now())
    assert lh.health(settings, manual_clock.now())["status"] == "down"


def test_clearing_only_ones_own_heartbeat(manual_clock: ManualClock) -> None:
    settings = _records(manual_clock).settings
    lh.write_heartbeat(settings, HEALTH, mode="on-demand", now=manual_clock.now, instance="b")
    lh.clear_heartbeat(settings, instance="a")  # a predecessor stopping late
    assert lh.is_live(settings, manual_clock.now())
    lh.clear_heartbeat(settings, instance="b")
    assert lh.read_heartbeat(settings) is None


def test_a_viewer_wakes_one_listener_per_lease_and_none_while_one_lasts(manual_clock: ManualClock) -> None:
    records = _records(manual_clock)
    starter = Starter()
    assert lh.wake(records.settings, records.counters, starter, manual_clock.now()) is True
    assert lh.wake(records.settings, records.counters, starter, manual_clock.now()) is False  # inside the lease
    assert starter.started == 1 and lh.idle_for_s(records.settings, manual_clock.now()) == 0
    ends = manual_clock.now() + timedelta(seconds=600)
    lh.write_heartbeat(records.settings, HEALTH, mode="on-demand", ends_at=ends, now=manual_clock.now)
    manual_clock.advance(lh.WAKE_LEASE_S + 1)
    assert lh.wake(records.settings, records.counters, starter, manual_clock.now()) is False  # one is live
    manual_clock.advance(600 - lh.HANDOVER_S)  # its end is near: a successor is started
    lh.write_heartbeat(records.settings, HEALTH, mode="on-demand", ends_at=ends, now=manual_clock.now)
    assert lh.wake(records.settings, records.counters, starter, manual_clock.now()) is True
    assert starter.started == 2
    assert lh.wake(records.settings, records.counters, None, manual_clock.now()) is False
