"""Player commands: find the player, build the command, publish it, read the answer.

One use case for the commands route and the routines (`Commands`, `send_action`,
`send_step`). Refused commands are `Invalid` with nothing sent; a player known
to be offline is `Conflict`; the player's FAIL is `UpstreamError`, its silence
`UpstreamTimeout` (docs/mqtt.md). A sleep at the end of the track or chapter is
recorded for the listener to carry out (`services.bedtime`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import Conflict, Invalid, NotFound, UpstreamError, UpstreamTimeout
from core.records import User, utcnow
from core.yoto import payloads
from core.yoto.cloud import YotoCard, pad_key
from core.yoto.payloads import Command, InvalidCommand
from services import bedtime, players
from services.players import KnownDevice, PlayerPorts, PlayerView

if TYPE_CHECKING:
    from core.yoto.results import CommandResult

ACTIONS = ("play", "pause", "resume", "stop", "volume", "sleep_timer", "ambient", "next", "previous", "status")


class CommandSender(Protocol):
    """Publishes a command as the player's account and waits for the answer
    (`adapters.yoto.mqtt.sender.MqttSender`: over the listener's connection when one is open,
    otherwise a short-lived one)."""

    def send(self, account: str, player_id: str, command: Command, *, timeout: float) -> tuple[CommandResult, str]:
        """(the result, how it went: "listener" or "short-lived")."""
        ...


class PlaybackCards(Protocol):
    """The part of `core.yoto.cloud.YotoCloud` that reads a card's chapters."""

    def card_for_playback(self, token: str, card_id: str) -> YotoCard: ...


@dataclass(frozen=True)
class Commands:
    players: PlayerPorts
    sender: CommandSender
    cloud: PlaybackCards
    live: Callable[[], bool]  # a listener is live, so the MQTT state is current (`listener_health.is_live`)
    timeout_s: float  # MQTT_COMMAND_TIMEOUT_S


@dataclass(frozen=True)
class Sent:
    action: str
    family: str
    via: str
    elapsed_ms: int
    at_end_of: str | None = None  # a sleep the listener carries out when the track or chapter ends


def build(
    action: str,
    fields: Mapping[str, Any],
    *,
    player: PlayerView,
    chapters: Callable[[str], list[str]],
) -> Command:
    """The command for `action` with its fields (the body without `action`).
    `player` is the player's view (`services.players.view`), `chapters(card_id)`
    the card's chapter keys in order. `Invalid`/`Conflict` before anything is sent."""
    try:
        if action == "play":
            return payloads.play(
                fields["card_id"],
                chapter=fields.get("chapter"),
                track=fields.get("track"),
                seconds_in=fields.get("seconds_in"),
            )
        if action in ("pause", "resume", "stop"):
            return {"pause": payloads.pause, "resume": payloads.resume, "stop": payloads.stop}[action]()
        if action == "volume":
            return payloads.volume(fields["volume"])
        if action == "sleep_timer":
            if bedtime.end_of(fields) is not None:
                raise Invalid("a sleep at the end of the track is not one command: the listener carries it out")
            return payloads.sleep_timer(fields["minutes"])
        if action == "ambient":
            return payloads.ambient(fields.get("hex"), r=fields.get("r"), g=fields.get("g"), b=fields.get("b"))
        if action == "status":
            return payloads.status_request()
        if action in ("next", "previous"):
            return _adjacent(player, chapters, +1 if action == "next" else -1)
    except InvalidCommand as exc:
        raise Invalid(str(exc)) from None
    except KeyError as exc:
        raise Invalid(f"{action} needs {exc.args[0]}") from None
    raise Invalid(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")


def _adjacent(player: PlayerView, chapters: Callable[[str], list[str]], step: int) -> Command:
    card_id = player.card_id
    if not card_id:
        raise Conflict("no card is in the player: nothing to skip in")
    try:
        keys = chapters(card_id)
    except NotFound:
        raise Conflict(f"the chapters of card {card_id!r} cannot be read, so there is no next or previous") from None
    target = payloads.adjacent_chapter(keys, player.chapter_key, step)
    if target is None:
        raise Conflict("already at the first chapter" if step < 0 else "already at the last chapter")
    return payloads.play(card_id, chapter_key=target)  # as the card names it ("03", a shop card's "01-INT")


def card_chapters(card: YotoCard) -> list[str]:
    """The card's chapter keys in order (a chapter without one is numbered by position)."""
    return [chapter.key or pad_key(n) for n, chapter in enumerate(card.chapters, start=1)]


def send(
    sender: CommandSender,
    device: KnownDevice,
    action: str,
    command: Command,
    *,
    offline: bool,
    timeout: float,
) -> Sent:
    """Publish `command` to `device` and turn the player's answer into the outcome."""
    if offline:
        raise Conflict(f"player {device.name!r} is offline", player_id=device.id)
    result, via = sender.send(device.account, device.id, command, timeout=timeout)
    elapsed_ms = round(result.elapsed_s * 1000)
    if result.outcome == "failed":
        raise UpstreamError(
            f"the player refused {action}: {result.reason}", outcome="failed", reason=result.reason, via=via
        )
    if result.outcome == "timeout":
        raise UpstreamTimeout(
            f"the player did not acknowledge {action} within {timeout:g} s (it may still have obeyed)",
            outcome="timeout",
            via=via,
        )
    return Sent(action=action, family=command.family, via=via, elapsed_ms=elapsed_ms)


def send_action(commands: Commands, who: User, player_id: str, action: str, fields: Mapping[str, Any]) -> Sent:
    """The commands route: the player `who` may drive, the command for `action`
    with its `fields` (a card's chapters read through the player's account for
    next/previous), then the send."""
    if action == "sleep_timer":
        at_end_of = bedtime.end_of(fields)
        if at_end_of is not None:
            return sleep_at_end(commands, who, player_id, at_end_of)
    device, view = players.device_and_view(commands.players, player_id, who=who)

    def chapters(card_id: str) -> list[str]:  # the family's own card or one bought in the shop
        card = commands.players.tokens.call(device.account, commands.cloud.card_for_playback, card_id)
        return card_chapters(card)

    command = build(action, fields, player=view, chapters=chapters)
    sent = _deliver(commands, device, view, action, command)
    if action == "sleep_timer":  # a timer in minutes replaces a sleep at the end
        bedtime.clear_pending(commands.players.settings, player_id)
    return sent


def sleep_at_end(
    commands: Commands, who: User, player_id: str, at_end_of: str, expected: bedtime.Expected | None = None
) -> Sent:
    """Sleep at the end of the track or chapter playing now: recorded for the listener,
    which pauses the player when it ends (`services.bedtime.ask_sleep`); `Conflict` where
    no listener would see that, or nothing plays (or not yet what `expected` says)."""
    outcome: list[Sent] = []

    def pause_now(command: Command) -> None:
        device, view = players.device_and_view(commands.players, player_id, who=who)
        outcome.append(_deliver(commands, device, view, "pause", command))

    bedtime.ask_sleep(commands.players, who, player_id, at_end_of, pause_now=pause_now, expected=expected)
    if outcome:
        done = outcome[0]
        return Sent("sleep_timer", done.family, done.via, done.elapsed_ms, at_end_of)
    return Sent("sleep_timer", "none", "listener", 0, at_end_of)


def send_step(commands: Commands, who: User, player_id: str, action: str, command: Command) -> Sent:
    """A routine's step: a command built when the routine was saved, sent with `who`'s rights."""
    device, view = players.device_and_view(commands.players, player_id, who=who)
    return _deliver(commands, device, view, action, command)


def _deliver(commands: Commands, device: KnownDevice, view: PlayerView, action: str, command: Command) -> Sent:
    offline = players.known_offline(view, live=commands.live(), now=utcnow())
    return send(commands.sender, device, action, command, offline=offline, timeout=commands.timeout_s)
