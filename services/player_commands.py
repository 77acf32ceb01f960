"""Player commands: check, build, publish, and read the player's answer.

Everything is checked before anything is published: a refused command is
`Invalid` (422) with nothing sent. A player known to be offline is `Conflict`
(409) at once. `next`/`previous` are computed from the player's current state
and the card's chapter list (read from the Yoto cloud: the family's own cards
and shop cards alike). The answer: `ok`, the
player's FAIL (`UpstreamError`, 502, with its reason) or its silence within the
bound (`UpstreamTimeout`, 504: not proof the command failed, see docs/mqtt.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import Conflict, Invalid, NotFound, UpstreamError, UpstreamTimeout
from core.yoto import payloads
from core.yoto.cloud import YotoCard, pad_key
from core.yoto.payloads import Command, InvalidCommand
from services.players import KnownDevice

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


@dataclass(frozen=True)
class Sent:
    action: str
    family: str
    via: str
    elapsed_ms: int


def build(
    action: str,
    fields: Mapping[str, Any],
    *,
    player: Mapping[str, Any],
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


def _adjacent(player: Mapping[str, Any], chapters: Callable[[str], list[str]], step: int) -> Command:
    card_id = player.get("card_id")
    if not card_id:
        raise Conflict("no card is in the player: nothing to skip in")
    try:
        keys = chapters(card_id)
    except NotFound:
        raise Conflict(f"the chapters of card {card_id!r} cannot be read, so there is no next or previous") from None
    target = payloads.adjacent_chapter(keys, player.get("chapter_key"), step)
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
