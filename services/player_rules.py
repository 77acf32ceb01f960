"""Quiet hours and a daily listening limit per player, and their enforcement.

Each player's rules are one settings record (`player-rules:<id>`). Wherever the
MQTT listener runs, `Enforcer` (the listener's watcher, and a tick every
`RULES_EVERY_S`) pauses a player that plays inside its quiet hours or past its
minutes today, once per breach, by the family's clock and day (docs/players.md).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import BackendUnavailable, Conflict, Invalid, NotFound, RelinkNeeded, UpstreamError
from core.ports import PlayerRepository, SettingsRepository
from core.records import PlayerState, User, utcnow
from core.settings import Settings
from core.yoto import payloads
from core.yoto.state import api_fields
from services import listener_health, listening, player_commands, players
from services.player_commands import CommandSender
from services.players import KnownDevice, PlayerPorts
from services.schedule_times import local_instant, parse_clock

log = logging.getLogger(__name__)

RULES_EVERY_S = 30.0
DAILY_LIMIT_MAX = 24 * 60
NOTICE_MAX_CHARS = 200
# Events this long before the family's midnight are replayed too, so a track playing
# across midnight is known to be playing when the day's first event arrives.
LOOKBACK_S = 3600.0


def rules_key(player_id: str) -> str:
    return f"player-rules:{player_id}"


def paused_key(player_id: str) -> str:
    """The last pause the rules sent to the player: {"at", "breach"}."""
    return f"player-rules-paused:{player_id}"


@dataclass(frozen=True)
class Rules:
    quiet_from: str | None = None
    quiet_to: str | None = None
    daily_limit_minutes: int | None = None
    notice: str | None = None

    @property
    def empty(self) -> bool:
        return self.quiet_from is None and self.daily_limit_minutes is None

    def body(self) -> dict[str, Any]:
        quiet = {"from": self.quiet_from, "to": self.quiet_to} if self.quiet_from is not None else None
        return {"quiet_hours": quiet, "daily_limit_minutes": self.daily_limit_minutes, "notice": self.notice}


def parse_rules(body: Mapping[str, Any]) -> Rules:
    """The stored or requested form → `Rules`; `Invalid` naming what is wrong."""
    quiet = body.get("quiet_hours")
    start = end = None
    if quiet is not None:
        if not isinstance(quiet, Mapping) or set(quiet) != {"from", "to"}:
            raise Invalid('quiet_hours is {"from": "HH:MM", "to": "HH:MM"} or null')
        try:
            parse_clock(quiet["from"])
            parse_clock(quiet["to"])
        except ValueError as exc:
            raise Invalid(f"quiet_hours: {exc}") from None
        if quiet["from"] == quiet["to"]:
            raise Invalid("quiet_hours: from and to must differ (a window that crosses midnight is fine)")
        start, end = quiet["from"], quiet["to"]
    limit = body.get("daily_limit_minutes")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= DAILY_LIMIT_MAX
    ):
        raise Invalid(f"daily_limit_minutes is a whole number of minutes, 0–{DAILY_LIMIT_MAX}, or null")
    notice = body.get("notice")
    if notice is not None:
        if not isinstance(notice, str) or not notice.strip() or len(notice) > NOTICE_MAX_CHARS:
            raise Invalid(f"notice is a text of 1–{NOTICE_MAX_CHARS} characters, or null")
        notice = notice.strip()
    return Rules(start, end, limit, notice)


def read_rules(settings: SettingsRepository, player_id: str) -> Rules:
    """The player's rules; none set (or an unreadable record) reads as no rules."""
    try:
        return parse_rules(settings.get(rules_key(player_id)))
    except NotFound:
        return Rules()
    except (Invalid, AttributeError, TypeError):
        log.warning("the rules of player %s are unreadable; treated as none", player_id)
        return Rules()


# --------------------------------------------------------------------------- clock and day


def in_quiet_hours(rules: Rules, now: datetime, tz: ZoneInfo) -> bool:
    """Whether the family's wall clock at `now` is inside [from, to) (across midnight when from > to)."""
    if rules.quiet_from is None or rules.quiet_to is None:
        return False
    clock = now.astimezone(tz).time().replace(tzinfo=None)
    start, end = parse_clock(rules.quiet_from), parse_clock(rules.quiet_to)
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant the family's day of `now` began."""
    return local_instant(now.astimezone(tz).date(), time(0, 0), tz)


def minutes_today(repo: PlayerRepository, player_id: str, now: datetime, tz: ZoneInfo) -> float:
    """Minutes the player spent playing since the family's midnight (by `services.listening`'s count)."""
    midnight = day_start(now, tz)
    events = list(listening.events_in_window(repo, player_id, midnight - timedelta(seconds=LOOKBACK_S)))
    before = [e for e in events if e.at < midnight]
    seconds = _playing_s(events, now) - _playing_s(before, midnight)
    return max(0.0, seconds) / 60


def _playing_s(events: list[Any], until: datetime) -> float:
    return sum(t.seconds for t in listening.summarise(events, until=until))


# --------------------------------------------------------------------------- who enforces them


def enforced_by(settings: Settings, records: SettingsRepository, now: datetime | None = None) -> str:
    """The mode of the live listener that runs the rules ("always", "on-demand", "in-process"),
    or "not enforced: <why>"."""
    beat = listener_health.read_heartbeat(records)
    if beat is not None and beat.live(now or utcnow()):
        return beat.mode
    if settings.mqtt_listener_function:
        return "not enforced: no listener is running now (mqttMode on-demand runs one only while someone watches)"
    if settings.use_aws:
        return "not enforced: no listener is running (mqttMode off, or the always-on listener is down)"
    if not settings.mqtt_enabled:
        return "not enforced: MQTT_ENABLED is false, so no listener runs"
    return "not enforced: no listener is running"


# --------------------------------------------------------------------------- the API's use cases


def view(ports: PlayerPorts, player_id: str, rules: Rules, *, tz: ZoneInfo, enforcer: str) -> dict[str, Any]:
    """What `GET/PUT /api/players/{id}/rules` answer."""
    now = ports.now()
    last = _last_pause(ports.settings, player_id)
    return {
        "player_id": player_id,
        **rules.body(),
        "enforced_by": enforcer,
        "minutes_today": round(minutes_today(ports.players, player_id, now, tz), 1),
        "in_quiet_hours": in_quiet_hours(rules, now, tz),
        "last_pause": {"at": last[0].isoformat(), "breach": last[1]} if last is not None else None,
    }


def get_rules(ports: PlayerPorts, who: User, player_id: str, *, tz: ZoneInfo, enforcer: str) -> dict[str, Any]:
    """Whoever may use the player reads its rules (404 otherwise)."""
    players.find_device(ports, player_id, who=who)
    return view(ports, player_id, read_rules(ports.settings, player_id), tz=tz, enforcer=enforcer)


def put_rules(
    ports: PlayerPorts, who: User, player_id: str, body: Mapping[str, Any], *, tz: ZoneInfo, enforcer: str
) -> dict[str, Any]:
    """Replace the player's rules: whoever may use the player, as for its settings (`services.player_settings`)."""
    players.find_device(ports, player_id, who=who)
    rules = parse_rules(body)
    if rules.empty and rules.notice is None:
        with contextlib.suppress(NotFound):  # SQLite's delete is idempotent, DynamoDB's raises
            ports.settings.delete(rules_key(player_id))
    else:
        ports.settings.put(rules_key(player_id), rules.body())
    return view(ports, player_id, rules, tz=tz, enforcer=enforcer)


# --------------------------------------------------------------------------- enforcement


@dataclass(frozen=True)
class RulePorts:
    players: PlayerPorts  # device lists, the settings records (rules) and the player states and events
    sender: CommandSender
    tz: ZoneInfo
    timeout_s: float
    now: Callable[[], datetime] = utcnow


@dataclass(frozen=True)
class Enforced:
    """One player the tick found breaking its rules, and what it did:
    "paused", "already paused" (this breach was handled), or "not sent: <why>" (tried again next tick)."""

    player_id: str
    breach: str
    outcome: str


def _last_pause(settings: SettingsRepository, player_id: str) -> tuple[datetime, str, str] | None:
    """(when, the rule, which breach) of the last pause the rules sent the player."""
    try:
        body = settings.get(paused_key(player_id))
        return datetime.fromisoformat(body["at"]), str(body["breach"]), str(body.get("id") or "")
    except NotFound:
        return None
    except (KeyError, TypeError, ValueError):
        return None


def stopped_since(repo: PlayerRepository, player_id: str, since: datetime) -> bool:
    """Whether the player reported a pause or a stop (or went offline) at or after `since`."""
    for event in listening.events_in_window(repo, player_id, since):
        if event.kind == "events" and event.payload.get("playbackStatus") in ("paused", "stopped"):
            return True
        if event.kind == "presence" and event.payload.get("online") is False:
            return True
    return False


def breach(ports: RulePorts, rules: Rules, player_id: str, now: datetime) -> tuple[str, str] | None:
    """Which rule a playing player breaks at `now`, if any: (the rule, which breach: the rule
    and the family's date its quiet window or its day began)."""
    local = now.astimezone(ports.tz)
    if in_quiet_hours(rules, now, ports.tz):
        began = local.date()
        if (
            local.time().replace(tzinfo=None)
            < parse_clock(rules.quiet_to or "00:00")
            < parse_clock(rules.quiet_from or "00:00")
        ):
            began -= timedelta(days=1)  # inside a window that crossed midnight: it began yesterday
        return "quiet_hours", f"quiet_hours:{began.isoformat()}"
    limit = rules.daily_limit_minutes
    if limit is not None and minutes_today(ports.players.players, player_id, now, ports.tz) >= limit:
        return "daily_limit", f"daily_limit:{local.date().isoformat()}"
    return None


def _playing(state: PlayerState, now: datetime) -> bool:
    fresh = (now - state.updated_at).total_seconds() <= players.STALE_AFTER_S
    shown = api_fields(state.player_id, state.state, state.updated_at)
    return fresh and shown["online"] is not False and shown["playback_status"] == "playing"


class Enforcer:
    """The rules where the listener runs: `tick` checks every playing player, `watch` (a
    listener watcher) one player the moment it starts playing; one check at a time."""

    def __init__(self, ports: RulePorts) -> None:
        self.ports = ports
        self._lock = threading.Lock()

    def tick(self) -> list[Enforced]:
        now = self.ports.now()
        found = [self.check(state, now) for state in self.ports.players.players.list_states()]
        return [e for e in found if e is not None]

    def watch(self, player_id: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """`adapters.yoto.mqtt.listener.Listener.add_watcher`: a player that starts playing
        (a resume, a card put in) is checked at once instead of at the next tick."""
        old, new = before.get("events") or {}, after.get("events") or {}
        if new.get("playbackStatus") == "playing" and old.get("playbackStatus") != "playing":
            now = self.ports.now()
            self.check(PlayerState(player_id, dict(after), now), now)

    def check(self, state: PlayerState, now: datetime) -> Enforced | None:
        """Pause the player if it plays against its rules and this breach was not handled yet."""
        if not _playing(state, now):
            return None
        ports, player_id = self.ports, state.player_id
        rules = read_rules(ports.players.settings, player_id)
        if rules.empty:
            return None
        found = breach(ports, rules, player_id, now)
        if found is None:
            return None
        with self._lock:
            last = _last_pause(ports.players.settings, player_id)
            if (
                last is not None
                and last[2] == found[1]
                and not stopped_since(ports.players.players, player_id, last[0])
            ):
                return Enforced(player_id, found[0], "already paused")
            device = next((d for d in players.all_devices(ports.players) if d.id == player_id), None)
            return Enforced(player_id, found[0], self._pause(device, found, now))

    def _pause(self, device: KnownDevice | None, found: tuple[str, str], now: datetime) -> str:
        if device is None:
            return "not sent: no linked Yoto account lists the player"
        ports, broken = self.ports, found[0]
        try:
            player_commands.send(
                ports.sender, device, "pause", payloads.pause(), offline=False, timeout=ports.timeout_s
            )
        except (BackendUnavailable, RelinkNeeded, Conflict) as exc:
            log.warning("rules: could not pause player %s (%s): %s", device.id, broken, exc)
            return f"not sent: {exc}"
        except UpstreamError as exc:  # it answered FAIL or nothing: the pause went out, it counts
            log.warning("rules: player %s did not take the pause (%s): %s", device.id, broken, exc)
            self._record(device.id, found, now)
            return f"paused: {exc}"
        self._record(device.id, found, now)
        log.info("rules: paused player %s (%s)", device.id, broken)
        return "paused"

    def _record(self, player_id: str, found: tuple[str, str], at: datetime) -> None:
        body = {"at": at.isoformat(), "breach": found[0], "id": found[1]}
        self.ports.players.settings.put(paused_key(player_id), body)
