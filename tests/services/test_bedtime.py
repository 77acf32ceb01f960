"""services.bedtime on the memory records and the in-process Yoto cloud: a sleep at the
end of the track or chapter (refused where no listener would see it end; the watcher
pauses at the change and only then), and light ramps as routine steps on an injected
clock (bounded changes, the configured colour at the end, a Mini refused)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.errors import Conflict, Invalid, UpstreamError
from core.records import User, utcnow
from core.yoto.payloads import Command
from core.yoto.results import CommandResult
from services import bedtime, listener_health, player_commands, routines
from services.bedtime import EndOfWatcher, Timing
from services.routines import RoutinePorts
from tests.services.test_player_commands import FakeSender, Listener, commands_of, topic
from tests.services.test_routines import EVERY_DAY, HeldQueue
from tests.services.test_routines import ports_of as routine_ports
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

TZ = ZoneInfo("Europe/London")
MUM = User("mum", is_admin=True, id="mum")
PLAYER = "bedroom-1"
MINI = "mini-1"


@dataclass
class FakeTime:
    """`Timing` whose sleep moves its clock; the wall clock is fixed at `wall`."""

    t: float = 1000.0
    wall: datetime = datetime(2026, 12, 8, 20, 0, tzinfo=UTC)  # 20:00 in London: night (19:00 on)
    meanwhile: list[Callable[[], None]] = field(default_factory=list)  # what happens during the next sleep

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.t += seconds
        while self.meanwhile:
            self.meanwhile.pop(0)()

    def timing(self) -> Timing:
        return Timing(sleep=self.sleep, clock=lambda: self.t, now=lambda: self.wall)


@dataclass
class TimedSender(FakeSender):
    """A `FakeSender` that notes the fake clock at each send."""

    time: FakeTime = field(default_factory=FakeTime)
    at: list[float] = field(default_factory=list)

    def send(self, account: str, player_id: str, command: Command, *, timeout: float) -> tuple[CommandResult, str]:
        self.at.append(self.time.t)
        return super().send(account, player_id, command, timeout=timeout)


@pytest.fixture
def root(root: Root, cloud: InProcessCloud) -> Root:
    """The services tier's root, whose account has a v3 player and a Mini."""
    cloud.add_device(PLAYER, "Bedroom")
    cloud.add_device(MINI, "Mini", device_type="mini")
    return root


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def sender(clock: FakeTime) -> TimedSender:
    return TimedSender(time=clock)


def ports_of(root: Root, sender: FakeSender, clock: FakeTime) -> RoutinePorts:
    """The routines' ports of `tests.services.test_routines`, reading the players' config, on `clock`."""
    return replace(routine_ports(root, sender, HeldQueue()), config=root.adapters.yoto, timing=clock.timing())


def run_routine(ports: RoutinePorts, steps: list[dict[str, Any]], player_id: str = PLAYER) -> Any:
    made = routines.create(ports, MUM, name="Night", player_id=player_id, at="19:00", days=EVERY_DAY, steps=steps)
    done, queued = routines.run_now(ports, MUM, made.id)
    assert queued is False
    return done


def colours(sender: FakeSender) -> list[str]:
    """The colours of the `ambients/set` commands sent, as #rrggbb (nothing else may have gone out)."""
    assert {p.topic for p in sender.sent} <= {topic("ambients/set")}
    return ["#{r:02x}{g:02x}{b:02x}".format(**json.loads(p.payload)) for p in sender.sent]


# --------------------------------------------------------------------------- light ramps


def test_a_ten_minute_ramp_changes_the_light_at_most_once_per_30_s_and_ends_on_the_configured_colour(
    root: Root, sender: TimedSender, clock: FakeTime
) -> None:
    ports = ports_of(root, sender, clock)
    start = clock.t
    done = run_routine(ports, [{"action": "light_ramp", "from": "#ff8000", "to": "#200000", "minutes": 10}])
    assert done.status == "ok", done
    sent = colours(sender)
    assert len(sent) <= 21 and len(sent) == 21
    gaps = [b - a for a, b in itertools.pairwise(sender.at)]
    assert min(gaps) >= 30.0
    assert sender.at[0] == start and sender.at[-1] - start == pytest.approx(600.0)
    assert sent[0] == "#ff8000" and sent[19] == "#200000"
    # red falls steadily from 0xff to 0x20; green from 0x80 to 0
    reds = [int(c[1:3], 16) for c in sent[:20]]
    assert reds == sorted(reds, reverse=True) and len(set(reds)) == 20
    assert sent[-1] == "#f57399"  # the night colour of the player's config: it is 20:00 in London
    assert done.results[0]["sent"] == 21 and done.results[0]["ended_on"] == "#f57399"
    assert done.results[0]["reason"] is None


def test_by_day_the_ramp_ends_on_the_day_colour_and_the_config_is_never_written(
    root: Root, cloud: InProcessCloud, sender: TimedSender, clock: FakeTime
) -> None:
    clock.wall = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
    before = root.adapters.yoto.get_config(root.records.tokens.get("mum").access_token, PLAYER).config
    ports = ports_of(root, sender, clock)
    done = run_routine(ports, [{"action": "light_ramp", "from": "#000000", "to": "#ffcc66", "minutes": 1}])
    assert colours(sender) == ["#000000", "#ffcc66", "#40bfd9"]  # 1 minute: two 30 s slots, then the day colour
    assert done.status == "ok"
    after = root.adapters.yoto.get_config(root.records.tokens.get("mum").access_token, PLAYER).config
    assert after == before
    assert cloud.requests("PUT") == []


def test_a_ramp_whose_colour_cannot_be_read_at_the_end_leaves_the_to_colour_and_says_so(
    root: Root, sender: TimedSender, clock: FakeTime
) -> None:
    @dataclass
    class ReadsOnce:
        """The player's config read through the real client once (the model), then Yoto is down."""

        reads: int = 0

        def get_config(self, token: str, device_id: str) -> Any:
            self.reads += 1
            if self.reads > 1:
                raise UpstreamError("Yoto answered 503")
            return root.adapters.yoto.get_config(token, device_id)

    ports = replace(ports_of(root, sender, clock), config=ReadsOnce())
    done = run_routine(ports, [{"action": "light_ramp", "from": "#101010", "to": "#202020", "minutes": 1}])
    assert colours(sender) == ["#101010", "#202020"]
    step = done.results[0]
    assert step["outcome"] == "ok" and step["ended_on"] == "#202020"
    assert "left at #202020" in str(step["reason"]) and "503" in str(step["reason"])


def test_a_mini_has_no_night_light_so_its_ramp_is_refused_and_the_next_step_runs(
    root: Root, sender: TimedSender, clock: FakeTime
) -> None:
    ports = ports_of(root, sender, clock)
    steps = [{"action": "light_ramp", "from": "#ff8000", "to": "#200000", "minutes": 5}, {"action": "pause"}]
    done = run_routine(ports, steps, player_id=MINI)
    assert [(s["action"], s["outcome"]) for s in done.results] == [("light_ramp", "failed"), ("pause", "ok")]
    assert "mini player has no night light" in str(done.results[0]["reason"])
    assert sender.topics == [topic("card/pause", MINI)]
    assert clock.t == 1000.0  # it did not wait either


def test_a_ramp_stops_the_run_when_the_player_stops_answering(root: Root, sender: TimedSender, clock: FakeTime) -> None:
    sender.answers["ambients/set"] = CommandResult("timeout", elapsed_s=2.0)
    ports = ports_of(root, sender, clock)
    steps = [{"action": "light_ramp", "from": "#ff8000", "to": "#200000", "minutes": 3}, {"action": "pause"}]
    done = run_routine(ports, steps)
    assert [(s["action"], s["outcome"]) for s in done.results] == [("light_ramp", "failed"), ("pause", "skipped")]
    assert len(sender.sent) == 1 and "did not acknowledge" in str(done.results[0]["reason"])


def test_ramp_and_end_of_steps_are_checked_when_the_routine_is_saved() -> None:
    ramp = {"action": "light_ramp", "from": "#ff8000", "to": "#200000", "minutes": 6}
    for steps, why in [
        ([{**ramp, "minutes": 13}], "minutes must be a whole number from 1 to 12"),
        ([{**ramp, "minutes": 0}], "minutes must be a whole number from 1 to 12"),
        ([{**ramp, "minutes": 2.5}], "minutes must be a whole number"),
        ([{**ramp, "from": "orange"}], 'from must be a colour "#rrggbb"'),
        ([{**ramp, "to": "#fff"}], 'to must be a colour "#rrggbb"'),
        ([{**ramp, "speed": 2}], "light_ramp takes from, to and minutes, not speed"),
        ([{"action": "light_ramp", "from": "#000000", "minutes": 2}], "light_ramp needs to"),
        ([ramp, ramp, {**ramp, "minutes": 1}], "light ramps last at most 12 minutes together (got 13)"),
        ([{"action": "sleep_timer", "at_end_of": "story"}], "at_end_of must be one of track, chapter"),
        ([{"action": "sleep_timer", "at_end_of": "track", "minutes": 5}], "minutes or at_end_of, not both"),
    ]:
        with pytest.raises(Invalid, match=r"step|light ramps") as refused:
            routines.check_steps(steps)
        assert why in str(refused.value), (steps, str(refused.value))
    assert routines.check_steps([ramp, ramp, {"action": "sleep_timer", "at_end_of": "chapter"}])[2] == {
        "action": "sleep_timer",
        "at_end_of": "chapter",
    }


def test_the_plan_of_a_ramp_is_bounded_for_every_length() -> None:
    for minutes in range(1, bedtime.RAMP_MINUTES_MAX + 1):
        plan = bedtime.Ramp((255, 0, 0), (0, 0, 255), minutes).plan()
        times = [t for t, _ in plan] + [minutes * 60.0]  # the configured colour at the end
        assert len(times) <= minutes * 2 + 1
        assert min(b - a for a, b in itertools.pairwise(times)) >= 30.0
        assert plan[0][1] == (255, 0, 0) and plan[-1][1] == (0, 0, 255)


# --------------------------------------------------------------------------- sleep at the end


def beat(root: Root, mode: str = "always") -> None:
    listener_health.write_heartbeat(root.records.settings, {}, mode=mode)


def on_track(root: Root, track: str, chapter: str = "01", card: str = "c1", status: str = "playing") -> None:
    events = {"cardId": card, "chapterKey": chapter, "trackKey": track, "playbackStatus": status}
    root.records.players.merge_state(PLAYER, {"events": events, "online": True})


def test_with_no_listener_or_an_on_demand_one_it_is_refused_with_the_reason_and_nothing_is_kept(
    root: Root, sender: FakeSender, clock: FakeTime
) -> None:
    commands = commands_of(root, sender, Listener())
    on_track(root, "02")
    with pytest.raises(Conflict, match="no MQTT listener is running") as refused:
        player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"at_end_of": "track"})
    assert refused.value.extra["available"] is False
    assert bedtime.availability(root.records.settings).available is False
    beat(root, "on-demand")
    with pytest.raises(Conflict, match="runs on demand and stops when nobody is watching"):
        player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"at_end_of": "chapter"})
    assert bedtime.read_pending(root.records.settings, PLAYER) is None and sender.sent == []
    beat(root, "always")
    assert bedtime.availability(root.records.settings) == bedtime.Availability(True)


def test_nothing_playing_is_refused(root: Root, sender: FakeSender) -> None:
    beat(root)
    commands = commands_of(root, sender, Listener(up=True))
    with pytest.raises(Conflict, match="nothing is playing on 'Bedroom'"):
        player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"at_end_of": "track"})
    on_track(root, "02", status="paused")
    with pytest.raises(Conflict, match="nothing is playing"):
        player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"at_end_of": "track"})
    assert sender.sent == []


@dataclass
class PauseSender:
    """The listener's `send` as the watcher gets it: notes each command, answers OK."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, player_id: str, command: Command) -> CommandResult:
        self.sent.append((player_id, command.family))
        return CommandResult("ok", elapsed_s=0.01)


def state(track: str, chapter: str = "01", card: str = "c1", status: str = "playing", position: int = 0) -> dict:
    return {
        "events": {
            "cardId": card,
            "chapterKey": chapter,
            "trackKey": track,
            "playbackStatus": status,
            "position": position,
        }
    }


def test_the_watcher_pauses_when_the_track_changes_and_not_before(root: Root, sender: FakeSender) -> None:
    beat(root)
    on_track(root, "02")
    sent = player_commands.send_action(
        commands_of(root, sender, Listener(up=True)), MUM, PLAYER, "sleep_timer", {"at_end_of": "track"}
    )
    assert (sent.action, sent.via, sent.at_end_of, sent.elapsed_ms) == ("sleep_timer", "listener", "track", 0)
    assert sender.sent == []
    pending = bedtime.read_pending(root.records.settings, PLAYER)
    assert pending is not None and (pending.card_id, pending.chapter_key, pending.track_key) == ("c1", "01", "02")

    pause = PauseSender()
    watch = EndOfWatcher(root.records.settings, pause)
    watch(PLAYER, state("02", position=10), state("02", position=15))  # position only: not read, not due
    watch(PLAYER, state("02", position=15), state("02", status="paused", position=15))  # the child paused: still due
    assert pause.sent == []
    watch(PLAYER, state("02", status="paused"), state("03"))  # track 3 starts
    assert pause.sent == [(PLAYER, "card/pause")] and watch.paused == [(PLAYER, "the track ended")]
    assert bedtime.read_pending(root.records.settings, PLAYER) is None
    watch(PLAYER, state("03"), state("04"))
    assert len(pause.sent) == 1  # once


def test_at_the_end_of_the_chapter_the_watcher_waits_for_the_chapter_to_change(root: Root, sender: FakeSender) -> None:
    beat(root)
    on_track(root, "01", chapter="01")
    player_commands.send_action(
        commands_of(root, sender, Listener(up=True)), MUM, PLAYER, "sleep_timer", {"at_end_of": "chapter"}
    )
    pause = PauseSender()
    watch = EndOfWatcher(root.records.settings, pause)
    watch(PLAYER, state("01"), state("02"))
    assert pause.sent == []
    watch(PLAYER, state("02"), state("03", chapter="02"))
    assert pause.sent == [(PLAYER, "card/pause")] and watch.paused == [(PLAYER, "the chapter ended")]


def test_a_stopped_player_or_an_old_request_is_cleared_with_nothing_sent(root: Root, sender: FakeSender) -> None:
    beat(root)
    commands = commands_of(root, sender, Listener(up=True))
    on_track(root, "02")
    player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"at_end_of": "track"})
    pause = PauseSender()
    EndOfWatcher(root.records.settings, pause)(PLAYER, state("02"), state("02", status="stopped"))
    assert pause.sent == [] and bedtime.read_pending(root.records.settings, PLAYER) is None

    player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"at_end_of": "track"})
    later = EndOfWatcher(root.records.settings, pause, now=lambda: utcnow() + timedelta(hours=13))
    later(PLAYER, state("02"), state("03"))
    assert pause.sent == [] and bedtime.read_pending(root.records.settings, PLAYER) is None


def test_a_timer_in_minutes_clears_a_sleep_at_the_end(root: Root, sender: FakeSender) -> None:
    beat(root)
    commands = commands_of(root, sender, Listener(up=True))
    on_track(root, "02")
    player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"at_end_of": "track"})
    player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"minutes": 0})
    assert bedtime.read_pending(root.records.settings, PLAYER) is None
    assert sender.topics == [topic("sleep-timer/set")]


@dataclass
class PlayingSender(FakeSender):
    """Acknowledges like `FakeSender`; a `card/start` also shows up in the records as the
    listener would merge the player's events (its chapter, track 01, playing): at once, or
    with `late` during the routine's next wait."""

    root: Any = None
    late: FakeTime | None = None

    def send(self, account: str, player_id: str, command: Command, *, timeout: float) -> tuple[CommandResult, str]:
        answer = super().send(account, player_id, command, timeout=timeout)
        if command.family == "card/start" and self.root is not None:
            body = command.body or {}
            card = str(body["uri"]).rsplit("/", 1)[1]
            events = {"cardId": card, "chapterKey": body.get("chapterKey", "01"), "trackKey": "01"}
            state = {"events": {**events, "playbackStatus": "playing"}, "online": True}

            def heard() -> None:
                self.root.records.players.merge_state(player_id, state)

            if self.late is not None:
                self.late.meanwhile.append(heard)
            else:
                heard()
        return answer


def test_a_routine_plays_a_card_then_sleeps_at_the_end_of_its_chapter(root: Root, clock: FakeTime) -> None:
    beat(root)
    on_track(root, "05", chapter="03", card="other")  # what played before: not what the sleep is for
    sender = PlayingSender(root=root)
    ports = ports_of(root, sender, clock)
    done = run_routine(
        ports, [{"action": "play", "card_id": "story1"}, {"action": "sleep_timer", "at_end_of": "chapter"}]
    )
    assert [(s["action"], s["outcome"]) for s in done.results] == [("play", "ok"), ("sleep_timer", "ok")], done
    pending = bedtime.read_pending(root.records.settings, PLAYER)
    assert pending is not None and (pending.card_id, pending.chapter_key, pending.at_end_of) == (
        "story1",
        "01",
        "chapter",
    )
    assert sender.topics == [topic("card/start")]


def test_a_routine_sleep_at_the_end_with_no_listener_fails_and_the_next_step_still_runs(
    root: Root, sender: TimedSender, clock: FakeTime
) -> None:
    ports = ports_of(root, sender, clock)
    done = run_routine(ports, [{"action": "sleep_timer", "at_end_of": "track"}, {"action": "volume", "volume": 20}])
    assert [(s["action"], s["outcome"]) for s in done.results] == [("sleep_timer", "failed"), ("volume", "ok")]
    assert "no MQTT listener is running" in str(done.results[0]["reason"])


def test_after_a_play_step_the_sleep_waits_for_the_player_to_report_the_chapter_it_started(
    root: Root, clock: FakeTime
) -> None:
    beat(root)
    on_track(root, "05", chapter="03", card="story1")  # the same card, further on: not yet what the step started
    sender = PlayingSender(root=root, late=clock)
    ports = ports_of(root, sender, clock)
    start = clock.t
    steps = [{"action": "play", "card_id": "story1", "chapter": 2}, {"action": "sleep_timer", "at_end_of": "chapter"}]
    done = run_routine(ports, steps)
    assert [(s["action"], s["outcome"]) for s in done.results] == [("play", "ok"), ("sleep_timer", "ok")], done
    pending = bedtime.read_pending(root.records.settings, PLAYER)
    assert pending is not None and (pending.chapter_key, pending.track_key) == ("02", "01")
    assert 0 < clock.t - start <= routines.PLAYING_WAIT_S


def test_a_player_that_never_reports_the_card_fails_the_sleep_step_after_the_wait(root: Root, clock: FakeTime) -> None:
    beat(root)
    on_track(root, "05", chapter="03", card="other")
    ports = ports_of(root, FakeSender(), clock)  # acknowledges, but no events follow
    start = clock.t
    steps = [{"action": "play", "card_id": "story1"}, {"action": "sleep_timer", "at_end_of": "track"}]
    done = run_routine(ports, steps)
    assert [(s["action"], s["outcome"]) for s in done.results] == [("play", "ok"), ("sleep_timer", "failed")]
    assert "has not said it is playing card story1 yet" in str(done.results[1]["reason"])
    assert clock.t - start == pytest.approx(routines.PLAYING_WAIT_S, abs=0.3)
    assert bedtime.read_pending(root.records.settings, PLAYER) is None
