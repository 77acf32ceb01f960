"""The listener loop (`services.listener_runner`) on the memory records: a fake listener
moves a manual clock at each heartbeat, so deadlines and idle times pass without waiting.
`heartbeat_every_s=0` makes the loop's pause between beats nothing; only `stop()` ends a wait."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from adapters.memory import MemoryRecords
from core.errors import BackendUnavailable
from services import listener_health as lh
from services.listener_runner import InProcess, ListenerRunner
from tests.conftest import ManualClock

BEAT_S = 25.0  # how far the clock moves between two heartbeats
MAX_BEATS = 50
HEALTH = {"last_contact": "2026-03-01T18:00:00+00:00", "accounts": ["mum"], "connected_accounts": ["mum"]}


class FakeListener:
    """`core.ports.PlayerListener`: `run` blocks until `stop`; each `health()` is one beat,
    which moves the clock on by BEAT_S and then calls `on_beat(n)` (n from 1)."""

    def __init__(self, clock: ManualClock, on_beat: Callable[[int], None] = lambda n: None) -> None:
        self.clock = clock
        self.on_beat = on_beat
        self.on_stop: Callable[[], None] = lambda: None
        self.beats = 0
        self.runs = 0
        self.stops = 0
        self.running = threading.Event()
        self._stopped = threading.Event()

    def run(self) -> None:
        self.runs += 1
        self.running.set()
        self._stopped.wait()

    def stop(self) -> None:
        self.stops += 1
        self.on_stop()
        self._stopped.set()

    def health(self) -> dict[str, Any]:
        self.beats += 1
        if self.beats > MAX_BEATS:  # a loop that never stops fails the test instead of hanging it
            pytest.fail(f"still running after {MAX_BEATS} heartbeats")
        self.clock.advance(BEAT_S)
        self.on_beat(self.beats)
        return {**HEALTH, "counts": {"events": self.beats}}


class Settings:
    """The memory settings, keeping every heartbeat put; `fail_puts` / `fail_deletes` make it an outage."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.beats: list[dict[str, Any]] = []
        self.fail_puts = 0
        self.fail_deletes = False

    def get(self, key: str) -> Any:
        return self.inner.get(key)

    def put(self, key: str, value: Any) -> None:
        if key == lh.HEARTBEAT_KEY and self.fail_puts:
            self.fail_puts -= 1
            raise BackendUnavailable("the records are unreachable")
        if key == lh.HEARTBEAT_KEY:
            self.beats.append(value)
        self.inner.put(key, value)

    def delete(self, key: str) -> None:
        if self.fail_deletes:
            raise BackendUnavailable("the records are unreachable")
        self.inner.delete(key)

    def list_keys(self) -> list[str]:
        return self.inner.list_keys()


@pytest.fixture
def settings(manual_clock: ManualClock) -> Settings:
    return Settings(MemoryRecords(clock=manual_clock.now).settings)


def _runner(listener: FakeListener, settings: Settings, clock: ManualClock, **options: Any) -> ListenerRunner:
    return ListenerRunner(listener, settings, now=clock.now, heartbeat_every_s=0, **options)  # type: ignore[arg-type]


def _at(beat: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(beat["at"])


def test_always_runs_its_listener_once_and_only_stop_ends_it(manual_clock: ManualClock, settings: Settings) -> None:
    """No deadline and no idle time: hours without a viewer do not stop it; `stop()` does, after that beat."""
    runner: ListenerRunner | None = None

    def beat(n: int) -> None:
        manual_clock.advance(3600)
        if n == 5:
            assert runner is not None
            runner.stop()

    listener = FakeListener(manual_clock, beat)
    runner = _runner(listener, settings, manual_clock, mode="always")
    started = manual_clock.now()
    assert runner.run() == "stopped"
    assert runner.stopped_because == "stopped"
    assert (listener.runs, listener.stops, len(settings.beats)) == (1, 1, 5)
    assert {b["mode"] for b in settings.beats} == {"always"}
    assert {b["instance"] for b in settings.beats} == {runner.instance}
    assert all(b["ends_at"] is None for b in settings.beats)
    assert [b["counts"] for b in settings.beats] == [{"events": n} for n in range(1, 6)]
    assert settings.beats[0]["accounts"] == ["mum"] and settings.beats[0]["connected_accounts"] == ["mum"]
    assert _at(settings.beats[-1]) - started > timedelta(hours=5)
    assert lh.read_heartbeat(settings) is None  # cleared at once: the health check says down, not stale


def test_a_stop_before_the_loop_begins_still_beats_once_and_clears(
    manual_clock: ManualClock, settings: Settings
) -> None:
    listener = FakeListener(manual_clock)
    runner = _runner(listener, settings, manual_clock, mode="always")
    runner.stop()
    assert runner.run() == "stopped"
    assert (listener.runs, listener.stops, len(settings.beats)) == (1, 1, 1)
    assert lh.read_heartbeat(settings) is None


def test_on_demand_stops_at_its_deadline_and_each_beat_says_when(manual_clock: ManualClock, settings: Settings) -> None:
    ends = manual_clock.now() + timedelta(seconds=60)
    live: list[dict[str, Any]] = []
    listener = FakeListener(manual_clock, lambda n: live.append(lh.health(settings, manual_clock.now())))
    runner = _runner(listener, settings, manual_clock, mode="on-demand", ends_at=ends)
    assert runner.run() == "deadline"
    assert len(settings.beats) == 3  # at +25 s, +50 s, and +75 s, past the end
    assert {b["ends_at"] for b in settings.beats} == {ends.isoformat()}
    assert {b["mode"] for b in settings.beats} == {"on-demand"}
    # while it ran, the API's view of it: live, connected, on demand, ending then
    assert live[1]["status"] == "ok" and live[1]["mode"] == "on-demand" and live[1]["ends_at"] == ends.isoformat()
    assert listener.stops == 1 and lh.read_heartbeat(settings) is None


def test_on_demand_stops_once_nobody_has_looked_for_its_idle_time(
    manual_clock: ManualClock, settings: Settings
) -> None:
    """Viewers at the first three beats keep it up; it stops at the first beat 60 s after the last one."""

    def viewers(n: int) -> None:
        if n <= 3:
            lh.viewer_seen(settings, manual_clock.now())

    listener = FakeListener(manual_clock, viewers)
    runner = _runner(listener, settings, manual_clock, mode="on-demand", idle_s=60)
    last_viewer = manual_clock.now() + timedelta(seconds=3 * BEAT_S)
    assert runner.run() == "idle"
    assert len(settings.beats) == 6  # +125 s is 50 s after the last viewer; +150 s is 75 s
    assert _at(settings.beats[-1]) - last_viewer == timedelta(seconds=75)
    assert listener.runs == 1 and listener.stops == 1
    assert lh.read_heartbeat(settings) is None


def test_on_demand_with_nobody_ever_looking_stops_at_the_first_beat(
    manual_clock: ManualClock, settings: Settings
) -> None:
    listener = FakeListener(manual_clock)
    runner = _runner(listener, settings, manual_clock, mode="on-demand", idle_s=600)
    assert runner.run() == "idle"
    assert len(settings.beats) == 1 and listener.stops == 1


def test_a_records_outage_skips_beats_but_never_stops_the_listener(
    manual_clock: ManualClock, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.fail_puts = 2
    ends = manual_clock.now() + timedelta(seconds=110)
    listener = FakeListener(manual_clock)
    runner = _runner(listener, settings, manual_clock, mode="on-demand", ends_at=ends)
    with caplog.at_level(logging.ERROR, logger="services.listener_runner"):
        assert runner.run() == "deadline"
    assert listener.beats == 5  # +25 … +125 s: two lost to the outage, three written
    assert [b["counts"]["events"] for b in settings.beats] == [3, 4, 5]
    assert [r.getMessage() for r in caplog.records] == ["could not write the MQTT heartbeat"] * 2
    assert listener.stops == 1


def test_a_heartbeat_that_cannot_be_cleared_still_ends_the_run(
    manual_clock: ManualClock, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.fail_deletes = True
    listener = FakeListener(manual_clock)
    runner = _runner(listener, settings, manual_clock, mode="always")
    runner.stop()
    with caplog.at_level(logging.ERROR, logger="services.listener_runner"):
        assert runner.run() == "stopped"
    assert listener.stops == 1
    assert [r.getMessage() for r in caplog.records] == ["could not clear the MQTT heartbeat"]
    assert lh.read_heartbeat(settings) is not None  # left to go stale


def test_a_successors_heartbeat_is_left_when_the_predecessor_stops(
    manual_clock: ManualClock, settings: Settings
) -> None:
    """An on-demand successor started near this one's end and beat meanwhile: stopping clears only our own."""
    listener = FakeListener(manual_clock)
    successor_ends = manual_clock.now() + timedelta(minutes=15)
    listener.on_stop = lambda: lh.write_heartbeat(
        settings, HEALTH, mode="on-demand", ends_at=successor_ends, now=manual_clock.now, instance="successor"
    )
    runner = _runner(listener, settings, manual_clock, mode="on-demand", ends_at=manual_clock.now())
    assert runner.run() == "deadline"
    beat = lh.read_heartbeat(settings)
    assert beat is not None and beat.instance == "successor" and beat.ends_at == successor_ends
    assert lh.is_live(settings, manual_clock.now())


def test_two_runners_have_their_own_instance_names(manual_clock: ManualClock, settings: Settings) -> None:
    a = _runner(FakeListener(manual_clock), settings, manual_clock)
    b = _runner(FakeListener(manual_clock), settings, manual_clock)
    assert a.instance != b.instance and len(a.instance) == 12


def test_in_process_lends_its_running_listener_to_commands_until_stopped(
    manual_clock: ManualClock, settings: Settings
) -> None:
    """`make run`'s slot: the loop runs in a thread (its pause between beats is the default,
    ended by `stop()`, never waited out); `current()` is the listener only while it runs."""
    slot = InProcess()
    assert slot.current() is None
    slot.stop()  # nothing started: nothing to stop
    listener = FakeListener(manual_clock)
    runner = ListenerRunner(listener, settings, mode="in-process", now=manual_clock.now)  # type: ignore[arg-type]
    slot.start(runner)
    assert slot.current() is listener
    assert listener.running.wait(5), "the listener thread never started"
    slot.stop()
    assert slot.current() is None and slot.handler is None
    assert runner.stopped_because == "stopped" and listener.stops == 1 and listener.runs == 1
    assert settings.beats and {b["mode"] for b in settings.beats} == {"in-process"}
    assert lh.read_heartbeat(settings) is None
    slot.stop()  # twice: still nothing to do
    assert listener.stops == 1
