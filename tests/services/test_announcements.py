"""services.announcements on the memory root and the in-process Yoto cloud, its manual clock
moving only when the service waits: stand-in players (a command sender) change their state in
the records as the listener would write it from their events, and play on as the clock moves."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from core.errors import Conflict, NotFound
from core.records import User
from core.yoto.payloads import CARD_URI, Command
from core.yoto.results import CommandResult
from services import announcements, jobs, players
from services.announcements import AnnouncementPorts
from tests.conftest import ManualClock
from tests.services.fakes import FakeTTS
from tests.services.memory_root import linked_admin_root
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
KID = User("kid", id="kid")
STORY = "story1"
STORY_LENGTH_S = 600.0
URI_PREFIX = CARD_URI.split("{", 1)[0]


@dataclass
class Deck:
    """One stand-in player's playback."""

    card: str = "none"
    chapter: str | None = None
    track: str | None = None
    position: float = 0.0
    status: str = "stopped"
    length: float = 0.0


@dataclass
class StandInPlayers:
    """The `CommandSender` port as players behind a listener: each command acknowledged and its
    effect merged into the records; `sleep` moves the cloud's clock and plays on (a card played
    to its end stops). A card other than STORY is the announcement, `spoken_s` long."""

    root: Root
    cloud: InProcessCloud
    spoken_s: float
    listener: bool = True  # False: nothing reaches the records (no listener runs)
    decks: dict[str, Deck] = field(default_factory=dict)
    sent: list[tuple[str, str, dict[str, Any] | None, float]] = field(default_factory=list)
    refuse: dict[tuple[str, str], str] = field(default_factory=dict)
    on_start: Any = None  # called with (player id, card) after each card/start

    def send(self, account: str, player_id: str, command: Command, *, timeout: float) -> tuple[CommandResult, str]:
        at = self.cloud.now().timestamp()
        self.sent.append((player_id, command.family, json.loads(command.payload or b"null"), at))
        reason = self.refuse.get((player_id, command.family))
        if reason is not None:
            return CommandResult("failed", reason=reason, elapsed_s=0.01), "listener"
        deck = self.decks.setdefault(player_id, Deck())
        body = command.body or {}
        if command.family == "card/start":
            deck.card = body["uri"].removeprefix(URI_PREFIX)
            deck.chapter, deck.track = body.get("chapterKey", "01"), body.get("trackKey", "01")
            deck.position, deck.status = float(body.get("secondsIn", 0)), "playing"
            deck.length = STORY_LENGTH_S if deck.card == STORY else self.spoken_s
            if self.on_start is not None:
                self.on_start(player_id, deck.card)
        elif command.family == "card/stop":
            deck.status = "stopped"
        elif command.family == "card/pause" and deck.status == "playing":
            deck.status = "paused"
        self.publish(player_id)
        return CommandResult("ok", elapsed_s=0.01), "listener"

    def publish(self, player_id: str) -> None:
        if not self.listener:
            return
        deck = self.decks[player_id]
        events = {
            "cardId": deck.card,
            "chapterKey": deck.chapter,
            "trackKey": deck.track,
            "position": int(deck.position),
            "playbackStatus": deck.status,
        }
        self.root.records.players.merge_state(player_id, {"events": events, "online": True})

    def sleep(self, seconds: float) -> None:
        self.cloud.advance(seconds)
        for player_id, deck in self.decks.items():
            if deck.status == "playing":
                deck.position += seconds
                if deck.position >= deck.length:
                    deck.status, deck.position = "stopped", 0.0
                    self.publish(player_id)

    def commands_to(self, player_id: str) -> list[tuple[str, dict[str, Any] | None]]:
        return [(family, body) for pid, family, body, _ in self.sent if pid == player_id]


@pytest.fixture
def cloud() -> InProcessCloud:
    """The in-process cloud on a clock that moves only when advanced (its own follows the wall clock)."""
    cloud = InProcessCloud()
    cloud.configure(transcode_delay_s=2.0)
    still = ManualClock()
    clock = cloud.state.clock
    clock.now = still.time  # type: ignore[method-assign]
    clock.advance = lambda seconds: still.advance(seconds) or still.time()  # type: ignore[method-assign]
    return cloud


@pytest.fixture
def root(cloud: InProcessCloud, tmp_path: Path, fake_tts: FakeTTS) -> Root:
    root = linked_admin_root(cloud, tmp_path)
    root.adapters.tts = fake_tts
    root.adapters.identity.create_user("kid", "purple monkey dishwasher")
    cloud.add_device("lounge", "Lounge")
    cloud.add_device("bedroom", "Bedroom")
    return root


@pytest.fixture
def stand_ins(root: Root, cloud: InProcessCloud) -> StandInPlayers:
    return StandInPlayers(root, cloud, spoken_s=1.0)


class NoWorkers:
    """A run queue that takes every run (a test runs it with `jobs.execute`)."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def submit(self, run: Any) -> bool:
        self.runs.append(run.id)
        return True


def ports_of(root: Root, stand_ins: StandInPlayers, **changes: Any) -> AnnouncementPorts:
    commands = replace(root.commands, sender=stand_ins, live=lambda: stand_ins.listener)
    return replace(
        root.announcements,
        commands=commands,
        queue=NoWorkers(),
        now=stand_ins.cloud.now,
        sleep=stand_ins.sleep,
        **changes,
    )


def playing_story(stand_ins: StandInPlayers, player_id: str, chapter: str, track: str, position: float) -> None:
    stand_ins.decks[player_id] = Deck(STORY, chapter, track, position, "playing", STORY_LENGTH_S)
    stand_ins.publish(player_id)


def by_player(run: Any) -> dict[str, dict[str, Any]]:
    return {r["player_id"]: r for r in run.results}


# --------------------------------------------------------------------------- playing and going back


def test_a_playing_player_goes_back_to_its_second_and_an_idle_one_stays_idle(
    root: Root, stand_ins: StandInPlayers, cloud: InProcessCloud
) -> None:
    playing_story(stand_ins, "lounge", "02", "03", 40)
    stand_ins.decks["bedroom"] = Deck()
    stand_ins.publish("bedroom")
    stand_ins.sleep(2)  # the story plays on to 42 s; the refresh the service asks for says so
    # a whole-second position is taken as half a second on (it is cut down), so 42 goes back as 43
    ports = ports_of(root, stand_ins)

    started = announcements.announce(ports, MUM, "Dinner in five minutes")

    assert not started.queued  # PUBLIC_URL is public https: a stream card, played in the request
    run = started.run
    assert run.status == "ok", run
    results = by_player(run)
    lounge = results["lounge"]
    assert lounge["outcome"] == "resumed" and lounge["ended_by"] == "events"
    assert lounge["resumed_to"] == {"card_id": STORY, "chapter_key": "02", "track_key": "03", "seconds_in": 43}
    assert results["bedroom"]["outcome"] == "stayed_idle"
    ann_card = stand_ins.commands_to("lounge")[1][1]["uri"].removeprefix(URI_PREFIX)
    assert stand_ins.commands_to("lounge") == [
        ("events/request", None),
        (
            "card/start",
            {"uri": CARD_URI.format(card_id=ann_card), "chapterKey": "01", "trackKey": "01", "secondsIn": 0},
        ),
        ("card/start", {"uri": CARD_URI.format(card_id=STORY), "chapterKey": "02", "trackKey": "03", "secondsIn": 43}),
    ]
    assert [f for f, _ in stand_ins.commands_to("bedroom")] == ["events/request", "card/start"]  # nothing after
    assert stand_ins.decks["lounge"].status == "playing" and stand_ins.decks["bedroom"].status == "stopped"
    held = cloud.card(ann_card)
    assert held is not None and [t["type"] for c in held["content"]["chapters"] for t in c["tracks"]] == ["stream"]


def test_the_story_goes_back_the_moment_the_announcement_ends_not_at_a_timer(
    root: Root, stand_ins: StandInPlayers, cloud: InProcessCloud
) -> None:
    playing_story(stand_ins, "lounge", "01", "01", 10)
    stand_ins.spoken_s = 1.0
    ports = ports_of(root, stand_ins)
    announcements.announce(ports, MUM, "Bath time", ["lounge"])
    (ann_start, resume) = [at for pid, f, _, at in stand_ins.sent if f == "card/start"]
    assert 1.0 <= resume - ann_start <= 1.0 + 2 * announcements.POLL_S  # not the 3 s margin


def test_the_same_card_is_rewritten_each_time_and_the_old_speech_leaves_the_library(
    root: Root, stand_ins: StandInPlayers
) -> None:
    ports = ports_of(root, stand_ins)
    first = announcements.announce(ports, MUM, "One", ["lounge"])
    second = announcements.announce(ports, MUM, "Two", ["lounge"])
    assert first.run.status == second.run.status == "ok"
    uris = [b["uri"] for f, b in stand_ins.commands_to("lounge") if f == "card/start"]
    assert len(uris) == 2 and uris[0] == uris[1]
    kept = root.records.settings.get(announcements.card_key("mum"))
    card = root.records.cards.get(kept["card_id"])
    assert card.audio_ids == (kept["item"],)
    titles = [i.title for i in root.records.audio.list(owner="mum", limit=50, cursor=None).items]
    assert titles == [announcements.TITLE]  # the first speech was removed


def test_with_no_listener_the_end_is_the_spoken_length_and_the_margin(
    root: Root, stand_ins: StandInPlayers, cloud: InProcessCloud
) -> None:
    playing_story(stand_ins, "lounge", "01", "02", 100)  # heard while a listener still ran
    stand_ins.listener = False
    cloud.advance(5)
    ports = ports_of(root, stand_ins)
    run = announcements.announce(ports, MUM, "Teeth", ["lounge"]).run
    lounge = by_player(run)["lounge"]
    assert lounge["outcome"] == "resumed" and lounge["ended_by"] == "timer"
    assert lounge["resumed_to"]["seconds_in"] == 106  # 100 heard 5 s before, and the half second
    assert [f for f, _ in stand_ins.commands_to("lounge")] == ["card/start", "card/start"]  # no refresh asked
    (ann_start, resume) = [at for pid, f, _, at in stand_ins.sent if f == "card/start"]
    spoken = root.records.audio.get(root.records.settings.get(announcements.card_key("mum"))["item"]).duration_s
    assert spoken + announcements.MARGIN_S <= resume - ann_start <= spoken + announcements.MARGIN_S + 0.5


def test_with_no_listener_a_place_heard_long_ago_is_not_trusted(
    root: Root, stand_ins: StandInPlayers, cloud: InProcessCloud
) -> None:
    playing_story(stand_ins, "lounge", "01", "02", 100)
    stand_ins.listener = False
    cloud.advance(announcements.KNOWN_FOR_S + 1)
    run = announcements.announce(ports_of(root, stand_ins), MUM, "Teeth", ["lounge"]).run
    lounge = by_player(run)["lounge"]
    assert lounge["outcome"] == "played" and "not known" in lounge["detail"]
    assert [f for f, _ in stand_ins.commands_to("lounge")] == ["card/start", "card/stop"]


def test_a_card_started_during_the_announcement_is_left_playing(root: Root, stand_ins: StandInPlayers) -> None:
    playing_story(stand_ins, "lounge", "01", "01", 10)
    stand_ins.spoken_s = 30.0
    ports = ports_of(root, stand_ins)
    ports = replace(ports, sleep=lambda s: _swap_after(stand_ins, "lounge", s))
    run = announcements.announce(ports, MUM, "Hello again", ["lounge"]).run
    lounge = by_player(run)["lounge"]
    assert lounge["outcome"] == "left_alone" and "other9" in lounge["detail"] and lounge["ended_by"] == "events"
    assert stand_ins.decks["lounge"].card == "other9"
    assert [f for f, _ in stand_ins.commands_to("lounge")] == ["events/request", "card/start"]  # no way back


def _swap_after(stand_ins: StandInPlayers, player_id: str, seconds: float) -> None:
    """Sleep; once the announcement has played 1 s, a child puts another card in."""
    stand_ins.sleep(seconds)
    deck = stand_ins.decks[player_id]
    if deck.card not in (STORY, "other9") and deck.status == "playing" and deck.position >= 1.0:
        stand_ins.decks[player_id] = Deck("other9", "01", "01", 0, "playing", 600)
        stand_ins.publish(player_id)


def test_a_player_that_refuses_fails_with_its_reason_and_the_others_still_announce(
    root: Root, stand_ins: StandInPlayers
) -> None:
    playing_story(stand_ins, "lounge", "01", "01", 10)
    stand_ins.refuse[("bedroom", "card/start")] = "card not allowed"
    run = announcements.announce(ports_of(root, stand_ins), MUM, "Shoes on").run
    assert run.status == "partial"
    results = by_player(run)
    assert results["bedroom"]["outcome"] == "failed" and "card not allowed" in results["bedroom"]["detail"]
    assert results["lounge"]["outcome"] == "resumed"


# --------------------------------------------------------------------------- rights and refusals


def test_a_player_kept_for_another_member_is_unknown_and_nothing_is_spoken(
    root: Root, stand_ins: StandInPlayers, fake_tts: FakeTTS
) -> None:
    root.records.settings.put(players.private_key("bedroom"), {"member": "mum"})
    ports = ports_of(root, stand_ins)
    with pytest.raises(NotFound):
        announcements.announce(ports, KID, "Hi", ["bedroom"])
    assert fake_tts.spoken == [] and stand_ins.sent == []
    run = announcements.announce(ports, KID, "Hi").run  # all players: the kid's are those not kept
    assert "lounge" in by_player(run) and "bedroom" not in by_player(run)
    assert "bedroom" not in {pid for pid, *_ in stand_ins.sent}


def test_one_announcement_at_a_time(root: Root, stand_ins: StandInPlayers, tmp_path: Path) -> None:
    laptop = replace(root.cards, rules=replace(root.cards.rules, public_url="http://127.0.0.1:8000"))
    ports = ports_of(root, stand_ins, cards=laptop)
    started = announcements.announce(ports, MUM, "Wait for me", ["lounge"])
    assert started.queued and started.run.kind == announcements.KIND
    with pytest.raises(Conflict, match="playing already"):
        announcements.announce(ports, MUM, "Me too", ["lounge"])


# --------------------------------------------------------------------------- a yoto card


def test_a_laptop_install_queues_a_yoto_card_and_the_run_puts_the_players_back(
    root: Root, stand_ins: StandInPlayers, cloud: InProcessCloud
) -> None:
    playing_story(stand_ins, "lounge", "03", "05", 200)
    laptop = replace(root.cards, rules=replace(root.cards.rules, public_url="http://127.0.0.1:8000"))
    ports = ports_of(root, stand_ins, cards=laptop)
    started = announcements.announce(ports, MUM, "Dinner", ["lounge"])
    assert started.queued and stand_ins.sent == []  # nothing plays before the upload
    done = jobs.execute(
        root.records.runs, {announcements.KIND: lambda r: announcements.run_announcement(ports, r)}, started.run.id
    )
    assert done.status == "ok", done
    lounge = by_player(done)["lounge"]
    assert lounge["outcome"] == "resumed"
    assert lounge["resumed_to"]["chapter_key"] == "03" and lounge["resumed_to"]["track_key"] == "05"
    ann = next(b for f, b in stand_ins.commands_to("lounge") if f == "card/start")["uri"].removeprefix(URI_PREFIX)
    held = cloud.card(ann)
    assert held is not None
    assert [t["trackUrl"].startswith("yoto:#") for c in held["content"]["chapters"] for t in c["tracks"]] == [True]


def test_an_on_demand_listener_is_woken_so_the_end_is_seen_in_the_events(root: Root, stand_ins: StandInPlayers) -> None:
    playing_story(stand_ins, "lounge", "01", "02", 100)
    stand_ins.listener = False
    starts: list[str] = []

    class Starter:
        def start(self) -> None:
            starts.append("start")
            stand_ins.listener = True  # it connects and writes the players' events

    run = announcements.announce(ports_of(root, stand_ins, starter=Starter()), MUM, "Coats", ["lounge"]).run
    lounge = by_player(run)["lounge"]
    assert starts == ["start"]
    assert lounge["outcome"] == "resumed" and lounge["ended_by"] == "events"


def test_a_player_known_to_be_offline_is_sent_nothing(root: Root, stand_ins: StandInPlayers) -> None:
    playing_story(stand_ins, "lounge", "01", "01", 10)
    players.all_devices(root.players)  # the device list is taken now; the listener hears the rest later
    stand_ins.sleep(1)
    root.records.players.merge_state("bedroom", {"online": False})
    run = announcements.announce(ports_of(root, stand_ins), MUM, "Lights out", ["lounge", "bedroom"]).run
    results = by_player(run)
    assert run.status == "partial"
    assert results["bedroom"] == {
        "player_id": "bedroom",
        "name": "Bedroom",
        "outcome": "failed",
        "detail": "player 'Bedroom' is offline",
    }
    assert stand_ins.commands_to("bedroom") == []
    assert results["lounge"]["outcome"] == "resumed"


def test_a_stream_announcement_too_long_to_hold_the_request_is_queued(root: Root, stand_ins: StandInPlayers) -> None:
    ports = ports_of(root, stand_ins)
    spoken = 1.0  # the fake engine's tone
    assert announcements.longest_wait_s(ports, spoken, "stream") <= announcements.IN_REQUEST_MAX_S
    longer = replace(ports, margin_s=announcements.IN_REQUEST_MAX_S)  # as a long speech would be
    assert announcements.longest_wait_s(longer, spoken, "stream") > announcements.IN_REQUEST_MAX_S
    started = announcements.announce(longer, MUM, "A long story about the day", ["lounge"])
    assert started.queued and started.run.status == "queued" and stand_ins.sent == []


def test_a_paused_player_stays_stopped_and_is_not_put_back(root: Root, stand_ins: StandInPlayers) -> None:
    stand_ins.decks["lounge"] = Deck(STORY, "02", "03", 77, "paused", STORY_LENGTH_S)
    stand_ins.publish("lounge")
    run = announcements.announce(ports_of(root, stand_ins), MUM, "Snack time", ["lounge"]).run
    lounge = by_player(run)["lounge"]
    assert lounge["outcome"] == "stayed_idle" and lounge["detail"] == f"it was paused on card {STORY}"
    assert [f for f, _ in stand_ins.commands_to("lounge")] == ["events/request", "card/start"]
    assert stand_ins.decks["lounge"].status == "stopped"
