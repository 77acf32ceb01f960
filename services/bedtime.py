"""Bedtime that ends where the story does: sleep at the end of the track or chapter
(a pending record the listener's watcher acts on when what was playing ends), and
light ramps (the night light faded in bounded steps, then the configured colour).
Why the watcher and not `card/start`'s `cutOff`, and the limits: docs/mqtt.md, "Bedtime".
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.errors import Conflict, Invalid, NotFound
from core.ports import SettingsRepository
from core.records import User, utcnow
from core.yoto import payloads
from core.yoto import settings as codec
from core.yoto.cloud import DeviceConfig
from core.yoto.payloads import Command
from core.yoto.results import CommandResult
from core.yoto.state import NO_CARD
from services import listener_health, players

log = logging.getLogger(__name__)

AT_END_OF = ("track", "chapter")
PENDING_PREFIX = "sleep-at-end:"
PENDING_TTL_S = 12 * 3600  # a request nobody's player ever ended is forgotten after this
RAMP_MINUTES_MAX = 12  # the AWS worker function stops at 15 minutes; a routine's ramps fit in 12
RAMP_EVERY_S = 30  # at most one colour change this often
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# the event keys whose change can end a track or chapter
_WHERE = ("cardId", "chapterKey", "trackKey", "playbackStatus")


# --------------------------------------------------------------------------- is there anyone to watch


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str | None = None


def availability(settings: SettingsRepository, now: datetime | None = None) -> Availability:
    """Whether a listener runs that will see the track end (`available`, by the heartbeat)."""
    return available(listener_health.read_heartbeat(settings), now)


def available(beat: listener_health.Heartbeat | None, now: datetime | None = None) -> Availability:
    """Live, and not a listener that stops by itself once nobody watches the players (mqttMode on-demand)."""
    if beat is None or not beat.live(now or utcnow()):
        return Availability(
            False, "no MQTT listener is running (mqttMode off, or it is down), so nothing would see the track end"
        )
    if beat.mode == "on-demand":
        return Availability(
            False,
            "the MQTT listener runs on demand and stops when nobody is watching the players,"
            " so it cannot be relied on to see the track end (mqttMode always can)",
        )
    return Availability(True)


# --------------------------------------------------------------------------- the pending sleep


@dataclass(frozen=True)
class Pending:
    """Pause `player_id` once the track (or chapter) that was playing at the request ends."""

    player_id: str
    at_end_of: str
    card_id: str
    chapter_key: str | None
    track_key: str | None
    until: datetime

    def body(self) -> dict[str, Any]:
        return {
            "at_end_of": self.at_end_of,
            "card_id": self.card_id,
            "chapter_key": self.chapter_key,
            "track_key": self.track_key,
            "until": self.until.isoformat(),
        }


def pending_key(player_id: str) -> str:
    return PENDING_PREFIX + player_id


def read_pending(settings: SettingsRepository, player_id: str) -> Pending | None:
    try:
        body = settings.get(pending_key(player_id))
        return Pending(
            player_id,
            str(body["at_end_of"]),
            str(body["card_id"]),
            body.get("chapter_key"),
            body.get("track_key"),
            datetime.fromisoformat(body["until"]),
        )
    except NotFound:
        return None
    except (KeyError, TypeError, ValueError):
        return None


def clear_pending(settings: SettingsRepository, player_id: str) -> None:
    with contextlib.suppress(NotFound):
        settings.delete(pending_key(player_id))


def ended(pending: Pending, events: Mapping[str, Any]) -> str | None:
    """Why the sleep is due, from the player's merged events (Yoto's names), or None."""
    card = events.get("cardId")
    if card in (None, "", NO_CARD) or card != pending.card_id:
        return "the card changed"
    if events.get("playbackStatus") == "stopped":
        return "playback stopped"
    if events.get("chapterKey") != pending.chapter_key:
        return "the chapter ended"
    if pending.at_end_of == "track" and events.get("trackKey") != pending.track_key:
        return "the track ended"
    return None


def end_of(fields: Mapping[str, Any]) -> str | None:
    """The `at_end_of` of a sleep_timer body (None: a plain timer); `Invalid` for a wrong one."""
    if "at_end_of" not in fields:
        return None
    value = fields["at_end_of"]
    if value not in AT_END_OF:
        raise Invalid(f"at_end_of must be one of {', '.join(AT_END_OF)} (got {value!r})")
    if "minutes" in fields:
        raise Invalid("a sleep_timer has minutes or at_end_of, not both")
    return str(value)


def _events_of(view: players.PlayerView) -> dict[str, Any]:
    return {
        "cardId": view.card_id or NO_CARD,
        "chapterKey": view.chapter_key,
        "trackKey": view.track_key,
        "playbackStatus": view.playback_status,
    }


@dataclass(frozen=True)
class Expected:
    """What a routine's play step started (sent at `since`): a sleep at the end that follows it
    waits until the player's events say it plays that, not what played before."""

    card_id: str
    chapter_key: str | None = None
    track_key: str | None = None
    since: datetime | None = None

    def met(self, view: players.PlayerView) -> bool:
        heard = datetime.fromisoformat(view.updated_at) if view.updated_at else None
        return (
            view.card_id == self.card_id
            and self.chapter_key in (None, view.chapter_key)
            and self.track_key in (None, view.track_key)
            and (self.since is None or (heard is not None and heard >= self.since))
        )


def ask_sleep(
    ports: players.PlayerPorts,
    who: User,
    player_id: str,
    at_end_of: str,
    *,
    pause_now: Callable[[Command], Any],
    now: datetime | None = None,
    expected: Expected | None = None,
) -> bool:
    """Record a sleep at the end of what is playing now for the listener to carry out.
    `Conflict` where no listener would see it end, or nothing is playing (`playing=False`:
    also while the player has not said it plays what a routine's play step started,
    `expected`). True when what was playing had ended already by the time the record
    was written (`pause_now` ran)."""
    if at_end_of not in AT_END_OF:
        raise Invalid(f"at_end_of must be one of {', '.join(AT_END_OF)} (got {at_end_of!r})")
    moment = now or utcnow()
    device, view = players.device_and_view(ports, player_id, who=who)
    check = availability(ports.settings, moment)
    if not check.available:
        raise Conflict(f"cannot sleep at the end of the {at_end_of}: {check.reason}", available=False)
    if players.known_offline(view, live=True, now=moment):
        raise Conflict(f"player {device.name!r} is offline", player_id=device.id)
    if view.card_id is None or view.playback_status != "playing" or view.chapter_key is None:
        raise Conflict(f"nothing is playing on {device.name!r}, so there is no {at_end_of} to end", playing=False)
    if at_end_of == "track" and view.track_key is None:
        raise Conflict(f"{device.name!r} has not said which track is playing; try again in a moment", playing=False)
    if expected is not None and not expected.met(view):
        raise Conflict(f"{device.name!r} has not said it is playing card {expected.card_id} yet", playing=False)
    pending = Pending(
        player_id,
        at_end_of,
        view.card_id,
        view.chapter_key,
        view.track_key,
        moment + timedelta(seconds=PENDING_TTL_S),
    )
    ports.settings.put(pending_key(player_id), pending.body())
    # the listener checks on a change; one that came between our read and the write went unseen
    _, again = players.device_and_view(ports, player_id, who=who)
    if ended(pending, _events_of(again)) is None:
        return False
    clear_pending(ports.settings, player_id)
    pause_now(payloads.pause())
    return True


@dataclass
class EndOfWatcher:
    """A listener watcher (`adapters.yoto.mqtt.listener.Listener.add_watcher`): when a
    player's card, chapter, track or playback changes, read its pending sleep (one read
    per such change, none per position update) and pause it at once if it is due."""

    settings: SettingsRepository
    send: Callable[[str, Command], CommandResult]
    now: Callable[[], datetime] = utcnow
    tries: int = 2

    def __post_init__(self) -> None:
        self.paused: list[tuple[str, str]] = []  # (player id, why), for the log and tests

    def __call__(self, player_id: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        old, new = before.get("events") or {}, after.get("events") or {}
        if all(old.get(k) == new.get(k) for k in _WHERE):
            return
        pending = read_pending(self.settings, player_id)
        if pending is None:
            return
        if pending.until <= self.now():
            clear_pending(self.settings, player_id)
            return
        why = ended(pending, new)
        if why is None:
            return
        clear_pending(self.settings, player_id)
        if new.get("playbackStatus") == "stopped" or new.get("cardId") in (None, "", NO_CARD):
            return  # nothing plays: nothing to pause
        for attempt in range(1, self.tries + 1):
            try:
                result = self.send(player_id, payloads.pause())
            except Exception as exc:
                log.warning("sleep at the end: pause of %s failed (%s), try %d", player_id, exc, attempt)
                continue
            if result.outcome == "ok":
                self.paused.append((player_id, why))
                log.info("sleep at the end of the %s: paused %s (%s)", pending.at_end_of, player_id, why)
                return
            log.warning("sleep at the end: pause of %s: %s %s", player_id, result.outcome, result.reason or "")


# --------------------------------------------------------------------------- light ramps

RGB = tuple[int, int, int]


def _rgb(value: Any, name: str) -> RGB:
    if not isinstance(value, str) or not _COLOUR.fullmatch(value):
        raise Invalid(f'{name} must be a colour "#rrggbb" (got {value!r})')
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def hex_of(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class Ramp:
    start: RGB
    end: RGB
    minutes: int

    @property
    def total_s(self) -> float:
        return self.minutes * 60.0

    def plan(self, every_s: float = RAMP_EVERY_S) -> list[tuple[float, RGB]]:
        """(seconds from the start, colour): `from` at 0 to `to` one slot before the end,
        slots at least `every_s` apart; the configured colour follows at `total_s` (so a
        10-minute ramp is 20 colours and the configured one: 21 changes)."""
        slots = max(2, int(self.total_s // every_s))
        gap = self.total_s / slots
        out: list[tuple[float, RGB]] = []
        for i in range(slots):
            f = i / (slots - 1)
            colour = tuple(round(a + (b - a) * f) for a, b in zip(self.start, self.end, strict=True))
            out.append((i * gap, colour))  # type: ignore[arg-type]
        return out


def ramp_of(step: Mapping[str, Any]) -> Ramp:
    """A light_ramp step (`from`, `to`, `minutes`); `Invalid` with the reason otherwise."""
    unknown = sorted(set(step) - {"action", "from", "to", "minutes"})
    if unknown:
        raise Invalid(f"light_ramp takes from, to and minutes, not {', '.join(unknown)}")
    for name in ("from", "to", "minutes"):
        if name not in step:
            raise Invalid(f"light_ramp needs {name}")
    minutes = step["minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= RAMP_MINUTES_MAX:
        raise Invalid(f"minutes must be a whole number from 1 to {RAMP_MINUTES_MAX} (got {minutes!r})")
    return Ramp(_rgb(step["from"], "from"), _rgb(step["to"], "to"), minutes)


def check_ramps(steps: Sequence[Mapping[str, Any]]) -> None:
    """A routine's ramps together fit in RAMP_MINUTES_MAX (a run is one worker call)."""
    total = sum(ramp_of(s).minutes for s in steps if s.get("action") == "light_ramp")
    if total > RAMP_MINUTES_MAX:
        raise Invalid(f"a routine's light ramps last at most {RAMP_MINUTES_MAX} minutes together (got {total})")


class ConfigReader(Protocol):
    """The part of `core.yoto.cloud.YotoCloud` that reads a player's config."""

    def get_config(self, token: str, device_id: str) -> DeviceConfig: ...


@dataclass(frozen=True)
class Timing:
    """How a ramp (or a step waiting for the player) waits; tests inject their own."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # seconds, for the gaps
    now: Callable[[], datetime] = utcnow  # the wall clock, for day or night


@dataclass(frozen=True)
class RampPorts:
    players: players.PlayerPorts
    config: ConfigReader | None
    tz: ZoneInfo
    timing: Timing = Timing()


@dataclass(frozen=True)
class RampResult:
    outcome: str  # ok | failed
    reason: str | None
    via: str
    sent: list[str]  # the colours sent, in order
    ended_on: str | None  # the colour the light was left at
    stop: bool = False  # a send failed (offline, silent, over budget): the routine's run ends here


def _minutes_of(clock: str) -> int:
    return int(clock[:2]) * 60 + int(clock[3:5])


def configured_colour(config: Mapping[str, Any], model: str, local: datetime) -> tuple[str | None, str]:
    """(the ambient colour the player is configured to show at `local`, "day" or "night")."""
    values = codec.read_settings(config, model)
    day, night = values.get("day_starts") or "07:00", values.get("night_starts") or "19:00"
    minute = local.hour * 60 + local.minute
    d, n = _minutes_of(day), _minutes_of(night)
    is_day = d <= minute < n if d <= n else (minute >= d or minute < n)
    part = "day" if is_day else "night"
    return values.get(f"{part}_ambient"), part


def run_ramp(
    ports: RampPorts,
    who: User,
    player_id: str,
    ramp: Ramp,
    send: Callable[[Command], str],
) -> RampResult:
    """Fade the night light over `ramp.minutes`, one `ambients/set` per slot (`send`
    answers how it went out), then set the colour the player's config shows now. The
    config is never written. Refused, with nothing sent, for a player with no light."""
    device = players.find_device(ports.players, player_id, who=who)

    def read() -> DeviceConfig:
        if ports.config is None:
            raise NotFound("this install reads no player config")
        return ports.players.tokens.call(device.account, ports.config.get_config, device.id)

    try:
        model = codec.model_of(read().raw)
    except Exception as exc:
        model, why = "unknown", str(exc) or type(exc).__name__
        log.info("light ramp on %s: the model could not be read (%s); ramping anyway", player_id, why)
    if not codec.capabilities(model).ambient_light:
        return RampResult("failed", f"a {model} player has no night light to ramp", "none", [], None)
    timing = ports.timing
    sent: list[str] = []
    via = "none"
    started = timing.clock()
    last: RGB | None = None
    for offset, colour in ramp.plan():
        timing.sleep(max(0.0, started + offset - timing.clock()))
        if colour == last:
            continue
        try:
            via = send(payloads.ambient(hex_of(colour)))
        except Exception as exc:
            reason = f"stopped after {len(sent)} colour(s): {exc}"
            return RampResult("failed", reason, via, sent, sent[-1] if sent else None, stop=True)
        sent.append(hex_of(colour))
        last = colour
    timing.sleep(max(0.0, started + ramp.total_s - timing.clock()))
    left = sent[-1]
    try:
        config = read()
        local = timing.now().astimezone(ports.tz)
        colour, part = configured_colour(config.config, codec.model_of(config.raw), local)
    except Exception as exc:
        why = f"left at {left}: the player's configured colour could not be read ({exc})"
        return RampResult("ok", why, via, sent, left)
    if colour is None:
        return RampResult("ok", f"left at {left}: the player's config holds no {part} colour", via, sent, left)
    try:
        via = send(payloads.ambient(colour))
    except Exception as exc:
        why = f"left at {left}: the configured {part} colour {colour} was not set ({exc})"
        return RampResult("failed", why, via, sent, left, stop=True)
    sent.append(colour)
    return RampResult("ok", None, via, sent, colour)
