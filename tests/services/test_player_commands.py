"""services.player_commands (the use case behind the players' commands route and the
routines' steps) on the memory records and the in-process Yoto cloud, with a command
sender standing in for MQTT: what goes out, as whom, on which topic, and what is refused."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest

from core.errors import Conflict, Invalid, NotFound, UpstreamError, UpstreamTimeout
from core.records import User, utcnow
from core.yoto.cloud import TokenGrant
from core.yoto.payloads import Command
from core.yoto.protocol import command_topic, volume_step, volume_to_device
from core.yoto.results import CommandResult
from services import player_commands, players
from services.player_commands import Commands
from tests.conftest import ManualClock
from tests.services.memory_root import linked_admin_root
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
KID = User("kid", id="kid")
BEN = User("ben", id="ben")
PLAYER = "bedroom-1"
TIMEOUT_S = 2.0
UNKNOWN = "no linked Yoto account has a player"
SHOP_CARD = {
    "cardId": "sHop1",
    "title": "Bought",
    "content": {
        "chapters": [
            {"key": "01-INT", "title": "Intro", "tracks": [{"key": "01-INT", "title": "Intro"}]},
            {"key": "01", "title": "One", "tracks": [{"key": "01", "title": "One"}]},
            {"key": "02", "title": "Two", "tracks": [{"key": "02", "title": "Two"}]},
        ]
    },
}


@dataclass(frozen=True)
class Published:
    account: str
    topic: str
    payload: bytes
    timeout: float


@dataclass
class FakeSender:
    """The `CommandSender` port: keeps what it was given to publish, and answers each
    command family as scripted (`answers`), by default an acknowledgement after 12 ms."""

    answers: dict[str, CommandResult] = field(default_factory=dict)
    via: str = "short-lived"
    sent: list[Published] = field(default_factory=list)

    def send(self, account: str, player_id: str, command: Command, *, timeout: float) -> tuple[CommandResult, str]:
        self.sent.append(Published(account, command_topic(player_id, command.family), command.payload, timeout))
        return self.answers.get(command.family, CommandResult("ok", elapsed_s=0.012)), self.via

    @property
    def topics(self) -> list[str]:
        return [p.topic for p in self.sent]


@dataclass
class Listener:
    """Whether a listener is live (`Commands.live`), set by the test."""

    up: bool = False

    def __call__(self) -> bool:
        return self.up


def topic(family: str, player_id: str = PLAYER) -> str:
    return f"device/{player_id}/command/{family}"


def commands_of(root: Root, sender: FakeSender, live: Listener, listed: ManualClock | None = None) -> Commands:
    """`Commands` as `wiring.Root.commands` builds it, with `sender` for MQTT; `listed`
    is the clock the players' device lists are taken by (default: now)."""
    ports = root.players if listed is None else replace(root.players, now=listed.now)
    return Commands(players=ports, sender=sender, cloud=root.adapters.yoto, live=live, timeout_s=TIMEOUT_S)


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud()


@pytest.fixture
def root(cloud: InProcessCloud, tmp_path: Path) -> Root:
    root = linked_admin_root(cloud, tmp_path)
    cloud.add_device(PLAYER, "Bedroom")
    return root


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def live() -> Listener:
    return Listener()


@pytest.fixture
def commands(root: Root, sender: FakeSender, live: Listener) -> Commands:
    return commands_of(root, sender, live)


def playing(root: Root, card_id: str | None, chapter: str | None = None, player_id: str = PLAYER) -> None:
    """The state the listener would have merged from the player's events."""
    events = {"cardId": card_id or "none", "chapterKey": chapter, "playbackStatus": "playing" if card_id else "stopped"}
    root.records.players.merge_state(player_id, {"events": events, "online": True})


def kids_player(root: Root, cloud: InProcessCloud) -> None:
    """The member kid links a Yoto account of their own, which has the player "kids-room"."""
    answer = cloud.issue_tokens("kid-yoto")
    root.tokens.store_new_link("kid", TokenGrant(answer["access_token"], 3600, answer["refresh_token"]))
    cloud.add_device("kids-room", "Kid's room", account="kid-yoto")


# --------------------------------------------------------------------------- what goes out


def test_a_command_goes_to_the_players_topic_as_its_account_with_the_timeout(
    commands: Commands, sender: FakeSender
) -> None:
    sent = player_commands.send_action(commands, MUM, PLAYER, "play", {"card_id": "c1", "chapter": 2})
    assert (sent.action, sent.family, sent.via, sent.elapsed_ms) == ("play", "card/start", "short-lived", 12)
    assert sender.sent == [
        Published("mum", topic("card/start"), b'{"uri":"https://yoto.io/c1","chapterKey":"02","secondsIn":0}', 2.0)
    ]
    player_commands.send_action(commands, MUM, PLAYER, "play", {"card_id": "c1"})  # plain: resume where it was
    player_commands.send_action(commands, MUM, PLAYER, "sleep_timer", {"minutes": 30})
    player_commands.send_action(commands, MUM, PLAYER, "ambient", {"hex": "#f80"})
    player_commands.send_action(commands, MUM, PLAYER, "pause", {})
    assert [(p.topic, p.payload) for p in sender.sent[1:]] == [
        (topic("card/start"), b'{"uri":"https://yoto.io/c1"}'),
        (topic("sleep-timer/set"), b'{"seconds":1800}'),
        (topic("ambients/set"), b'{"r":255,"g":136,"b":0}'),
        (topic("card/pause"), b""),
    ]


def test_volume_goes_out_on_the_0_to_100_scale_and_the_players_step_reads_back_as_a_percent(
    root: Root, commands: Commands, sender: FakeSender
) -> None:
    for level in (0, 48, 100):
        player_commands.send_action(commands, MUM, PLAYER, "volume", {"volume": level})
    assert [p.payload for p in sender.sent] == [b'{"volume":0}', b'{"volume":48}', b'{"volume":100}']
    assert {p.topic for p in sender.sent} == {topic("volume/set")}
    # the player lands on the nearest of its 17 steps and reports that step (0-16)
    root.records.players.merge_state(PLAYER, {"events": {"volume": volume_to_device(48), "volumeMax": 16}})
    shown = players.get_player(commands.players, PLAYER, who=MUM)
    assert shown.volume == volume_step(48) == 50
    for bad, why in [(101, "volume must be 0–100"), (-1, "volume must be 0–100"), (50.5, "whole number")]:
        with pytest.raises(Invalid, match=why):
            player_commands.send_action(commands, MUM, PLAYER, "volume", {"volume": bad})
    for bad in ("50", True, None):
        with pytest.raises(Invalid, match="volume must be a whole number"):
            player_commands.send_action(commands, MUM, PLAYER, "volume", {"volume": bad})
    assert len(sender.sent) == 3


def test_refused_commands_are_invalid_with_the_reason_and_nothing_is_sent(
    commands: Commands, sender: FakeSender
) -> None:
    for action, fields, why in [
        ("volume", {}, "volume needs volume"),
        ("sleep_timer", {"minutes": -1}, "minutes must be 0–1440"),
        ("sleep_timer", {"minutes": 1441}, "minutes must be 0–1440"),
        ("ambient", {"hex": "#ff80"}, "hex must look like #rrggbb or #rgb"),
        ("ambient", {"hex": "#ff8000", "r": 1}, "give either hex or r, g, b, not both"),
        ("ambient", {"r": 1, "g": 2}, "ambient needs hex or all of r, g, b"),
        ("play", {"card_id": "bad id!"}, "card_id must be a Yoto card id"),
        ("play", {"card_id": "c1", "chapter": 0}, "chapter must be at least 1"),
        ("play", {}, "play needs card_id"),
        ("dance", {}, "unknown action 'dance'; one of play, pause"),
    ]:
        with pytest.raises(Invalid) as refused:
            player_commands.send_action(commands, MUM, PLAYER, action, fields)
        assert why in str(refused.value), (action, fields, str(refused.value))
    assert sender.sent == []


# --------------------------------------------------------------------------- which player, whose


def test_an_unknown_player_is_not_found_and_nothing_is_sent(
    cloud: InProcessCloud, commands: Commands, sender: FakeSender
) -> None:
    with pytest.raises(NotFound, match=f"{UNKNOWN} 'no-such-player'"):
        player_commands.send_action(commands, MUM, "no-such-player", "pause", {})
    with pytest.raises(NotFound, match=UNKNOWN):
        player_commands.send_step(commands, MUM, "no-such-player", "stop", Command("card/stop"))
    assert sender.sent == []


def test_a_player_added_since_the_last_listing_is_found_once_the_short_refresh_allows(
    root: Root, cloud: InProcessCloud, sender: FakeSender, live: Listener
) -> None:
    listed = ManualClock()
    commands = commands_of(root, sender, live, listed)
    player_commands.send_action(commands, MUM, PLAYER, "pause", {})  # the account's players are listed now
    cloud.add_device("kitchen-2", "Kitchen")
    with pytest.raises(NotFound, match=UNKNOWN):
        player_commands.send_action(commands, MUM, "kitchen-2", "pause", {})
    listed.advance(players.UNKNOWN_REFRESH_S + 1)
    player_commands.send_action(commands, MUM, "kitchen-2", "pause", {})
    assert sender.topics == [topic("card/pause"), topic("card/pause", "kitchen-2")]


def test_a_player_kept_mine_only_is_driven_by_its_member_and_admins_and_unknown_to_the_rest(
    root: Root, cloud: InProcessCloud, commands: Commands, sender: FakeSender
) -> None:
    kids_player(root, cloud)
    player_commands.send_action(commands, BEN, "kids-room", "volume", {"volume": 40})  # the family's, so far
    players.set_private(commands.players, "kids-room", True, who=MUM)
    with pytest.raises(NotFound, match=f"{UNKNOWN} 'kids-room'"):
        player_commands.send_action(commands, BEN, "kids-room", "volume", {"volume": 60})
    with pytest.raises(NotFound, match=UNKNOWN):
        player_commands.send_step(commands, BEN, "kids-room", "stop", Command("card/stop"))
    player_commands.send_action(commands, KID, "kids-room", "volume", {"volume": 70})
    player_commands.send_action(commands, MUM, "kids-room", "volume", {"volume": 80})
    player_commands.send_action(commands, BEN, PLAYER, "pause", {})  # the family's players stay his to drive
    assert [(p.account, p.topic, p.payload) for p in sender.sent] == [
        ("kid", topic("volume/set", "kids-room"), b'{"volume":40}'),
        ("kid", topic("volume/set", "kids-room"), b'{"volume":70}'),
        ("kid", topic("volume/set", "kids-room"), b'{"volume":80}'),
        ("mum", topic("card/pause"), b""),
    ]


# --------------------------------------------------------------------------- offline (the 409 rule)


def test_a_player_the_list_just_called_offline_is_a_conflict_with_nothing_sent(
    root: Root, cloud: InProcessCloud, commands: Commands, sender: FakeSender
) -> None:
    cloud.add_device("car-3", "Car", online=False)
    with pytest.raises(Conflict, match="player 'Car' is offline") as refused:
        player_commands.send_action(commands, MUM, "car-3", "pause", {})
    assert refused.value.extra == {"player_id": "car-3"}
    with pytest.raises(Conflict, match="offline"):
        player_commands.send_step(commands, MUM, "car-3", "volume", Command("volume/set", {"volume": 30}))
    assert sender.sent == []


def test_an_old_offline_report_blocks_only_while_a_listener_keeps_the_state_current(
    root: Root, cloud: InProcessCloud, sender: FakeSender, live: Listener
) -> None:
    """Offline two minutes ago, by the REST list: with no listener it may be back, so the
    command goes out; with a live listener the state is current and it is refused."""
    cloud.add_device("car-3", "Car", online=False)
    listed = ManualClock(utcnow() - timedelta(minutes=2))
    commands = commands_of(root, sender, live, listed)
    player_commands.send_action(commands, MUM, "car-3", "pause", {})
    assert sender.topics == [topic("card/pause", "car-3")]
    live.up = True
    with pytest.raises(Conflict, match="player 'Car' is offline"):
        player_commands.send_action(commands, MUM, "car-3", "resume", {})
    assert sender.topics == [topic("card/pause", "car-3")]


def test_mqtt_presence_newer_than_the_list_decides_online(
    root: Root, cloud: InProcessCloud, commands: Commands, sender: FakeSender
) -> None:
    cloud.add_device("car-3", "Car", online=False)
    players.devices(commands.players, "mum")  # listed offline
    root.records.players.merge_state("car-3", {"online": True})  # then it said hello over MQTT
    player_commands.send_action(commands, MUM, "car-3", "pause", {})
    root.records.players.merge_state(PLAYER, {"online": False})  # and the bedroom one said goodbye
    with pytest.raises(Conflict, match="player 'Bedroom' is offline"):
        player_commands.send_action(commands, MUM, PLAYER, "pause", {})
    assert sender.topics == [topic("card/pause", "car-3")]


# --------------------------------------------------------------------------- the player's answer


def test_the_players_refusal_is_an_upstream_error_and_its_silence_a_timeout(
    commands: Commands, sender: FakeSender
) -> None:
    sender.answers = {
        "volume/set": CommandResult("failed", "volume locked by a grown-up", 0.05),
        "card/pause": CommandResult("timeout", None, TIMEOUT_S),
    }
    sender.via = "listener"
    with pytest.raises(UpstreamError) as refused:
        player_commands.send_action(commands, MUM, PLAYER, "volume", {"volume": 20})
    assert str(refused.value) == "the player refused volume: volume locked by a grown-up"
    assert refused.value.extra == {"outcome": "failed", "reason": "volume locked by a grown-up", "via": "listener"}
    assert not isinstance(refused.value, UpstreamTimeout)
    with pytest.raises(UpstreamTimeout) as silent:
        player_commands.send_action(commands, MUM, PLAYER, "pause", {})
    assert str(silent.value) == "the player did not acknowledge pause within 2 s (it may still have obeyed)"
    assert silent.value.extra == {"outcome": "timeout", "via": "listener"}
    assert player_commands.send_action(commands, MUM, PLAYER, "stop", {}).via == "listener"
    assert sender.topics == [topic("volume/set"), topic("card/pause"), topic("card/stop")]


# --------------------------------------------------------------------------- next and previous: the chapter lookup


def test_next_and_previous_play_the_adjacent_chapter_of_the_card_by_its_own_keys(
    root: Root, cloud: InProcessCloud, commands: Commands, sender: FakeSender
) -> None:
    cloud.add_shop_card(SHOP_CARD)
    playing(root, "sHop1", "01-INT")
    assert player_commands.send_action(commands, MUM, PLAYER, "next", {}).family == "card/start"
    playing(root, "sHop1", "02")
    player_commands.send_action(commands, MUM, PLAYER, "previous", {})
    assert [p.payload for p in sender.sent] == [
        b'{"uri":"https://yoto.io/sHop1","chapterKey":"01","secondsIn":0}',
        b'{"uri":"https://yoto.io/sHop1","chapterKey":"01","secondsIn":0}',
    ]
    assert len(cloud.requests("GET", "/card/sHop1")) == 2  # the chapters are read from Yoto each time


def test_no_next_past_the_ends_without_a_card_or_when_the_chapters_cannot_be_read(
    root: Root, cloud: InProcessCloud, commands: Commands, sender: FakeSender
) -> None:
    cloud.add_shop_card(SHOP_CARD)
    for card, chapter, action, why in [
        ("sHop1", "01-INT", "previous", "already at the first chapter"),
        ("sHop1", "02", "next", "already at the last chapter"),
        (None, None, "next", "no card is in the player: nothing to skip in"),
        ("gone9", "01", "next", "the chapters of card 'gone9' cannot be read, so there is no next or previous"),
    ]:
        playing(root, card, chapter)
        with pytest.raises(Conflict) as refused:
            player_commands.send_action(commands, MUM, PLAYER, action, {})
        assert str(refused.value) == why
    assert sender.sent == []


def test_a_card_with_no_current_chapter_starts_next_at_its_first(
    root: Root, cloud: InProcessCloud, commands: Commands, sender: FakeSender
) -> None:
    cloud.add_shop_card(SHOP_CARD)
    playing(root, "sHop1", "99")  # a chapter the card does not have
    player_commands.send_action(commands, MUM, PLAYER, "next", {})
    assert sender.sent[0].payload == b'{"uri":"https://yoto.io/sHop1","chapterKey":"01-INT","secondsIn":0}'
    with pytest.raises(Conflict, match="already at the first chapter"):
        player_commands.send_action(commands, MUM, PLAYER, "previous", {})
