"""services.player_rules on the memory root and the in-process Yoto cloud, on the cloud's
manual clock: quiet hours (across midnight, in the family's zone), the daily limit from
the listening history, one pause per breach, a resume paused again, and the tick in the
listener loop. A command sender stands in for MQTT and keeps what it was given."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.memory import MemoryRecords
from core.errors import BackendUnavailable, Invalid, NotFound
from core.records import PlayerEvent, User
from core.yoto.payloads import Command
from core.yoto.results import CommandResult
from services import listener_health, player_rules
from services.listener_runner import ListenerRunner
from services.player_rules import Enforced, Enforcer, RulePorts
from services.schedule_times import local_instant
from tests.services.memory_root import linked_admin_root
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
KID = User("kid", id="kid")
PLAYER = "bedroom-1"
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
PAUSE = "device/bedroom-1/command/card/pause"


@dataclass
class Sender:
    """The `CommandSender` port: keeps each topic it was given; `fail` makes it an outage."""

    sent: list[str] = field(default_factory=list)
    fail: Exception | None = None

    def send(self, account: str, player_id: str, command: Command, *, timeout: float) -> tuple[CommandResult, str]:
        if self.fail is not None:
            raise self.fail
        self.sent.append(f"device/{player_id}/command/{command.family}")
        return CommandResult("ok", elapsed_s=0.01), "listener"


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud(access_ttl_s=10 * 365 * 86400.0)  # the test moves the clock days on


@pytest.fixture
def root(cloud: InProcessCloud, tmp_path: Path) -> Root:
    root = linked_admin_root(cloud, tmp_path)
    cloud.add_device(PLAYER, "Bedroom")
    return root


@pytest.fixture
def sender() -> Sender:
    return Sender()


def enforcer(root: Root, cloud: InProcessCloud, sender: Sender, tz: ZoneInfo = LONDON) -> Enforcer:
    return Enforcer(RulePorts(root.players, sender, tz, timeout_s=1.0, now=cloud.now))


def go_to(cloud: InProcessCloud, tz: ZoneInfo, clock: str, *, days: int = 1) -> None:
    """Move the cloud's clock on to `clock` (HH:MM) in `tz`, `days` after today there."""
    today = cloud.now().astimezone(tz).date()
    target = local_instant(today + timedelta(days=days), time.fromisoformat(clock), tz)
    advance(cloud, (target - cloud.now()).total_seconds())


def advance(cloud: InProcessCloud, seconds: float) -> None:
    assert seconds >= 0, seconds
    cloud.advance(seconds)


def report(root: Root, cloud: InProcessCloud, status: str, player_id: str = PLAYER, **more: Any) -> None:
    """What the listener stores for one events message from the player."""
    payload = {"playbackStatus": status, "cardId": "c1", "chapterKey": "01", "trackKey": "01", **more}
    repo = root.records.players
    repo.add_event(PlayerEvent(player_id, cloud.now(), "events", payload))
    known = {s.player_id: s.state for s in repo.list_states()}
    state = known.get(player_id, {})
    repo.merge_state(player_id, {"events": {**(state.get("events") or {}), **payload}, "online": True})


def rules(root: Root, body: dict[str, Any], tz: ZoneInfo = LONDON, who: User = MUM) -> dict[str, Any]:
    return player_rules.put_rules(root.players, who, PLAYER, body, tz=tz, enforcer="in-process")


def quiet(start: str, end: str, **more: Any) -> dict[str, Any]:
    return {"quiet_hours": {"from": start, "to": end}, **more}


def outcomes(found: list[Enforced]) -> list[tuple[str, str]]:
    return [(e.breach, e.outcome) for e in found]


# --------------------------------------------------------------------------- the rules themselves


def test_rules_round_trip_in_one_record_and_bad_ones_are_refused_with_the_reason(root: Root) -> None:
    assert player_rules.get_rules(root.players, MUM, PLAYER, tz=LONDON, enforcer="always")["quiet_hours"] is None
    shown = rules(root, quiet("19:30", "07:00", daily_limit_minutes=45, notice=" Time to sleep now "))
    assert shown["quiet_hours"] == {"from": "19:30", "to": "07:00"}
    assert (shown["daily_limit_minutes"], shown["notice"], shown["enforced_by"]) == (
        45,
        "Time to sleep now",
        "in-process",
    )
    assert root.records.settings.get("player-rules:bedroom-1") == {
        "quiet_hours": {"from": "19:30", "to": "07:00"},
        "daily_limit_minutes": 45,
        "notice": "Time to sleep now",
    }
    again = player_rules.get_rules(root.players, KID, PLAYER, tz=LONDON, enforcer="always")
    assert again["quiet_hours"] == {"from": "19:30", "to": "07:00"} and again["daily_limit_minutes"] == 45
    for bad, why in [
        (quiet("19:30", "19:30"), "from and to must differ"),
        (quiet("24:00", "07:00"), "HH:MM on a 24-hour clock"),
        ({"quiet_hours": {"from": "19:30"}}, 'quiet_hours is {"from"'),
        ({"daily_limit_minutes": -1}, "0–1440"),
        ({"daily_limit_minutes": True}, "whole number"),
        ({"notice": "  "}, "1–200 characters"),
    ]:
        with pytest.raises(Invalid, match=why):
            rules(root, bad)
    assert root.records.settings.get("player-rules:bedroom-1")["daily_limit_minutes"] == 45  # nothing written
    rules(root, {"quiet_hours": None, "daily_limit_minutes": None, "notice": None})
    with pytest.raises(NotFound):
        root.records.settings.get("player-rules:bedroom-1")  # no rules: no record
    with pytest.raises(NotFound, match="no linked Yoto account has a player 'nope'"):
        player_rules.put_rules(root.players, MUM, "nope", {}, tz=LONDON, enforcer="always")


def test_quiet_hours_cross_midnight_by_the_familys_clock() -> None:
    r = player_rules.Rules("21:00", "07:00")
    day = date(2027, 1, 12)
    inside = [time(21, 0), time(23, 59), time(0, 0), time(6, 59)]
    outside = [time(7, 0), time(12, 0), time(20, 59)]
    for at in inside + outside:
        moment = local_instant(day, at, LONDON)
        assert player_rules.in_quiet_hours(r, moment, LONDON) is (at in inside), at
    # the same instant is 20:30 in London and 07:30 the next morning in Sydney
    moment = local_instant(day, time(20, 30), LONDON)
    assert not player_rules.in_quiet_hours(r, moment, LONDON)
    assert not player_rules.in_quiet_hours(player_rules.Rules("13:00", "14:00"), moment, SYDNEY)
    assert player_rules.in_quiet_hours(player_rules.Rules("07:00", "08:00"), moment, SYDNEY)
    # a window inside one day
    assert player_rules.in_quiet_hours(
        player_rules.Rules("13:00", "15:00"), local_instant(day, time(14), LONDON), LONDON
    )


def test_the_quiet_hours_follow_the_wall_clock_across_a_daylight_saving_change() -> None:
    r = player_rules.Rules("21:00", "07:00")
    utc = ZoneInfo("UTC")
    # London springs forward at 01:00 GMT on 28 March 2027: 07:00 is 06:00 UTC that morning
    assert player_rules.in_quiet_hours(r, datetime(2027, 3, 28, 5, 59, tzinfo=utc), LONDON)
    assert not player_rules.in_quiet_hours(r, datetime(2027, 3, 28, 6, 0, tzinfo=utc), LONDON)
    assert player_rules.in_quiet_hours(r, datetime(2027, 3, 28, 20, 0, tzinfo=utc), LONDON)  # 21:00 BST
    # and falls back on 31 October: that day runs 25 hours, from 23:00 UTC the day before
    start = datetime(2027, 10, 30, 23, 0, tzinfo=utc)
    assert player_rules.day_start(datetime(2027, 10, 31, 0, 30, tzinfo=utc), LONDON) == start  # 01:30 BST
    assert player_rules.day_start(datetime(2027, 10, 31, 23, 30, tzinfo=utc), LONDON) == start  # 23:30 GMT
    assert player_rules.day_start(datetime(2027, 11, 1, 0, 0, tzinfo=utc), LONDON) == start + timedelta(hours=25)


def test_enforced_by_names_the_live_listeners_mode_or_why_nothing_enforces(root: Root) -> None:
    settings, records = root.settings, root.records.settings
    assert player_rules.enforced_by(settings, records) == "not enforced: no listener is running"
    off = settings.model_copy(update={"mqtt_enabled": False})
    assert "MQTT_ENABLED is false" in player_rules.enforced_by(off, records)
    on_demand = settings.model_copy(update={"mqtt_listener_function": "yss-listener"})
    assert "on-demand runs one only while someone watches" in player_rules.enforced_by(on_demand, records)
    health = {"accounts": ["mum"], "connected_accounts": ["mum"], "counts": {}}
    listener_health.write_heartbeat(records, health, mode="on-demand")
    assert player_rules.enforced_by(on_demand, records) == "on-demand"
    listener_health.write_heartbeat(records, health, mode="always")
    assert player_rules.enforced_by(settings, records) == "always"
    later = datetime.now(LONDON) + timedelta(seconds=listener_health.STALE_AFTER_S + 1)
    assert player_rules.enforced_by(settings, records, later).startswith("not enforced")


# --------------------------------------------------------------------------- quiet hours


def test_a_player_playing_in_quiet_hours_is_paused_once_and_again_after_the_childs_resume(
    root: Root, cloud: InProcessCloud, sender: Sender
) -> None:
    rules(root, quiet("19:30", "07:00"))
    rule = enforcer(root, cloud, sender)
    go_to(cloud, LONDON, "19:00")
    report(root, cloud, "playing")
    assert rule.tick() == [] and sender.sent == []  # allowed hours
    go_to(cloud, LONDON, "19:31", days=0)
    report(root, cloud, "playing", position=120)
    assert outcomes(rule.tick()) == [("quiet_hours", "paused")]
    assert sender.sent == [PAUSE]
    # the state still says playing (the player has not reported the pause yet): not paused twice
    advance(cloud, 30)
    assert outcomes(rule.tick()) == [("quiet_hours", "already paused")]
    assert sender.sent == [PAUSE]
    report(root, cloud, "paused")
    advance(cloud, 30)
    assert rule.tick() == []
    # the child presses play again at 19:45: paused again
    go_to(cloud, LONDON, "19:45", days=0)
    report(root, cloud, "playing")
    assert outcomes(rule.tick()) == [("quiet_hours", "paused")]
    assert sender.sent == [PAUSE, PAUSE]
    shown = player_rules.get_rules(root.players, MUM, PLAYER, tz=LONDON, enforcer="always")
    assert shown["in_quiet_hours"] is True
    assert shown["last_pause"]["breach"] == "quiet_hours"
    assert abs((datetime.fromisoformat(shown["last_pause"]["at"]) - cloud.now()).total_seconds()) < 1
    # the next morning after 07:00 playing is allowed
    report(root, cloud, "paused")
    go_to(cloud, LONDON, "07:00")
    report(root, cloud, "playing")
    assert rule.tick() == [] and sender.sent == [PAUSE, PAUSE]


def test_one_quiet_window_across_midnight_is_one_breach_and_the_next_evening_is_another(
    root: Root, cloud: InProcessCloud, sender: Sender
) -> None:
    rules(root, quiet("21:00", "07:00"))
    rule = enforcer(root, cloud, sender)
    go_to(cloud, LONDON, "23:30")
    report(root, cloud, "playing")
    assert outcomes(rule.tick()) == [("quiet_hours", "paused")]
    # the player never reports the pause; after midnight it is still the same window
    go_to(cloud, LONDON, "06:30")
    report(root, cloud, "playing")
    assert outcomes(rule.tick()) == [("quiet_hours", "already paused")]
    go_to(cloud, LONDON, "21:30", days=0)
    report(root, cloud, "playing")
    assert outcomes(rule.tick()) == [("quiet_hours", "paused")]
    assert sender.sent == [PAUSE, PAUSE]


def test_the_familys_time_zone_decides_the_quiet_hours(root: Root, cloud: InProcessCloud, sender: Sender) -> None:
    rules(root, quiet("19:00", "07:00"), tz=SYDNEY)
    go_to(cloud, SYDNEY, "19:10")  # 08:10 or 09:10 in London, daytime there
    report(root, cloud, "playing")
    assert outcomes(enforcer(root, cloud, sender, tz=SYDNEY).tick()) == [("quiet_hours", "paused")]
    assert enforcer(root, cloud, Sender(), tz=LONDON).tick() == []


def test_a_stale_offline_or_stopped_player_or_one_without_rules_is_left_alone(
    root: Root, cloud: InProcessCloud, sender: Sender
) -> None:
    rule = enforcer(root, cloud, sender)
    go_to(cloud, LONDON, "22:00")
    report(root, cloud, "playing")
    assert rule.tick() == []  # no rules
    rules(root, quiet("21:00", "07:00"))
    report(root, cloud, "stopped")
    assert rule.tick() == []
    report(root, cloud, "playing")
    root.records.players.merge_state(PLAYER, {"online": False})
    assert rule.tick() == []
    root.records.players.merge_state(PLAYER, {"online": True})
    advance(cloud, 301)  # nothing heard for longer than a player's events last
    assert rule.tick() == []
    assert sender.sent == []


def test_a_pause_that_could_not_be_sent_is_tried_again_at_the_next_tick(
    root: Root, cloud: InProcessCloud, sender: Sender
) -> None:
    rules(root, quiet("21:00", "07:00"))
    rule = enforcer(root, cloud, sender)
    go_to(cloud, LONDON, "22:00")
    report(root, cloud, "playing")
    sender.fail = BackendUnavailable("Yoto's MQTT broker refused the connection")
    assert outcomes(rule.tick()) == [("quiet_hours", "not sent: Yoto's MQTT broker refused the connection")]
    sender.fail = None
    advance(cloud, 30)
    assert outcomes(rule.tick()) == [("quiet_hours", "paused")]
    assert sender.sent == [PAUSE]
    # a player the records know but no linked account lists any more (its rules outlived the link)
    root.records.settings.put(player_rules.rules_key("gone-1"), quiet("21:00", "07:00"))
    report(root, cloud, "playing", player_id="gone-1")
    found = {e.player_id: e.outcome for e in rule.tick()}
    assert found["gone-1"] == "not sent: no linked Yoto account lists the player" and sender.sent == [PAUSE]


def test_a_player_that_starts_playing_is_checked_at_once_by_the_listeners_watcher(
    root: Root, cloud: InProcessCloud, sender: Sender
) -> None:
    rules(root, quiet("21:00", "07:00"))
    rule = enforcer(root, cloud, sender)
    go_to(cloud, LONDON, "22:00")
    paused = {"events": {"playbackStatus": "paused", "cardId": "c1"}, "online": True}
    playing = {"events": {"playbackStatus": "playing", "cardId": "c1"}, "online": True}
    moved = {"events": {"playbackStatus": "playing", "cardId": "c1", "position": 30}, "online": True}
    rule.watch(PLAYER, paused, playing)  # the state as the listener merged it, before the records have it
    assert sender.sent == [PAUSE]
    rule.watch(PLAYER, playing, moved)  # a position report is no start
    rule.watch(PLAYER, paused, playing | {"online": False})  # an offline player is not paused
    assert sender.sent == [PAUSE]
    rule.watch(PLAYER, paused, playing)  # no pause reported since: the same breach
    assert sender.sent == [PAUSE]
    advance(cloud, 5)
    report(root, cloud, "paused")
    advance(cloud, 5)
    rule.watch(PLAYER, paused, playing)
    assert sender.sent == [PAUSE, PAUSE]


# --------------------------------------------------------------------------- the daily limit


def play_for(root: Root, cloud: InProcessCloud, minutes: float, every_s: float = 240) -> None:
    """The player reports playing every `every_s` (as the listener's events requests make it) for `minutes`."""
    left = minutes * 60
    while left > 0:
        step = min(every_s, left)
        advance(cloud, step)
        left -= step
        report(root, cloud, "playing")


def test_past_the_minutes_allowed_today_the_player_is_paused(root: Root, cloud: InProcessCloud, sender: Sender) -> None:
    rules(root, {"daily_limit_minutes": 30})
    rule = enforcer(root, cloud, sender)
    go_to(cloud, LONDON, "15:00")
    report(root, cloud, "playing")
    play_for(root, cloud, 28)
    assert rule.tick() == []
    minutes = player_rules.minutes_today(root.records.players, PLAYER, cloud.now(), LONDON)
    assert 27.9 < minutes < 28.1
    play_for(root, cloud, 3)
    assert outcomes(rule.tick()) == [("daily_limit", "paused")]
    report(root, cloud, "paused")
    advance(cloud, 60)
    report(root, cloud, "playing")  # a resume past the limit
    assert outcomes(rule.tick()) == [("daily_limit", "paused")]
    assert sender.sent == [PAUSE, PAUSE]
    # the next day starts from nothing
    report(root, cloud, "paused")
    go_to(cloud, LONDON, "09:00")
    report(root, cloud, "playing")
    play_for(root, cloud, 10)
    assert rule.tick() == [] and len(sender.sent) == 2


def test_today_begins_at_the_familys_midnight(root: Root, cloud: InProcessCloud, sender: Sender) -> None:
    rules(root, {"daily_limit_minutes": 20}, tz=SYDNEY)
    rule = enforcer(root, cloud, sender, tz=SYDNEY)
    go_to(cloud, SYDNEY, "23:40")
    report(root, cloud, "playing")
    play_for(root, cloud, 30)  # 20 minutes before Sydney's midnight, 10 after
    minutes = player_rules.minutes_today(root.records.players, PLAYER, cloud.now(), SYDNEY)
    assert 9.9 < minutes < 10.1
    assert rule.tick() == []
    play_for(root, cloud, 11)
    assert outcomes(rule.tick()) == [("daily_limit", "paused")]


# --------------------------------------------------------------------------- the tick in the listener loop


class IdleListener:
    """`core.ports.PlayerListener` that only blocks until stopped."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    def run(self) -> None:
        self._stopped.wait()

    def stop(self) -> None:
        self._stopped.set()

    def health(self) -> dict[str, Any]:
        return {"accounts": [], "connected_accounts": [], "counts": {}}


def test_the_listener_loop_runs_the_tick_beside_its_heartbeat_until_it_stops() -> None:
    ticks = threading.Semaphore(0)
    count = [0]

    def tick() -> None:
        count[0] += 1
        ticks.release()
        if count[0] == 2:
            raise RuntimeError("a failing tick is logged; the next one runs")

    runner = ListenerRunner(IdleListener(), MemoryRecords().settings, tick=tick, tick_every_s=0.01)
    thread = threading.Thread(target=runner.run)
    thread.start()
    for _ in range(4):
        assert ticks.acquire(timeout=5)
    runner.stop()
    thread.join(10)
    assert not thread.is_alive()
    stopped_at = count[0]
    threading.Event().wait(0.1)
    assert count[0] == stopped_at  # no tick after the loop ended


def test_the_roots_listener_loop_carries_the_rules_tick(root: Root) -> None:
    runner = root.listener_runner(IdleListener())
    assert runner.tick is not None and runner.tick_every_s == player_rules.RULES_EVERY_S == 30.0
