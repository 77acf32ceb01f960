"""Players as the API shows them: each linked account's REST device list merged
with the MQTT state the listener keeps in the records.

The UI polls this (on Lambda it cannot be pushed to), so a poll must not reach
Yoto's REST API: the device list of each account is cached in the settings
records (`yoto-devices:<account>`) and fetched again only when it is older than
`DEVICES_FRESH_S`, or, for an id nobody has heard of, at most every
`UNKNOWN_REFRESH_S`. A player's REST status (its device shadow, read from the
config) fills battery, charging, volume and the network facts until MQTT
reports them. Where both say whether a player is online, the fresher wins.
State older than `STALE_AFTER_S` is shown as stale (docs/mqtt.md).

Players are the family's, except one an admin keeps "mine only" (a settings
record `player-private:<id>` naming the member whose Yoto account had it):
only that member and admins see and drive it; to anyone else it is as unknown
as a player no account has (docs/security.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from core.errors import DomainError, NotFound
from core.ports import PlayerRepository, Records, SettingsRepository
from core.records import PlayerState, User, utcnow
from core.usernames import name_of
from core.yoto.cloud import Device, DeviceStatus
from core.yoto.state import api_fields

log = logging.getLogger(__name__)

T = TypeVar("T")
DEVICES_FRESH_S = 300
UNKNOWN_REFRESH_S = 30
# Players push events for about 5 minutes after each request and the listener asks
# every 4: nothing heard for longer means the state is no longer live.
STALE_AFTER_S = 300


def devices_key(account: str) -> str:
    """The settings key of an account's cached device list."""
    return f"yoto-devices:{account}"


class TokenCalls(Protocol):
    """The part of `services.yoto_tokens.YotoTokenService` a player listing needs."""

    def call(self, account: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T: ...


class DeviceCloud(Protocol):
    def list_devices(self, token: str) -> list[Device]: ...

    def device_status(self, token: str, device_id: str) -> DeviceStatus | None: ...


@dataclass(frozen=True)
class PlayerPorts:
    accounts: Callable[[], list[str]]  # the linked accounts (TokenRepository.list_accounts)
    tokens: TokenCalls
    cloud: DeviceCloud
    players: PlayerRepository
    settings: SettingsRepository
    now: Callable[[], datetime] = utcnow

    @classmethod
    def over(cls, records: Records, tokens: TokenCalls, cloud: DeviceCloud) -> PlayerPorts:
        """The ports from a `Records` set."""
        return cls(records.tokens.list_accounts, tokens, cloud, records.players, records.settings)


@dataclass(frozen=True)
class KnownDevice:
    """One player as the REST list (and its optional status) described it at `listed_at`."""

    id: str
    name: str
    account: str
    online: bool
    listed_at: datetime
    battery_percent: int | None = None
    charging: bool | None = None
    volume: int | None = None
    wifi_strength_dbm: float | None = None
    ssid: str | None = None
    uptime_s: float | None = None
    temperature_c: float | None = None
    free_disk_mb: int | None = None


_FROM_STATUS = ("battery_percent", "charging", "volume", "wifi_strength_dbm", "ssid", "uptime_s", "temperature_c")


def _shadow(status: DeviceStatus | None) -> dict[str, Any]:
    """The REST status's facts under the API's names (optional fields: older clients lack some)."""
    if status is None:
        return {}
    free = getattr(status, "free_disk_bytes", None)
    return {
        "battery_percent": status.battery_percent,
        "charging": status.charging,
        "volume": status.volume_percent,
        "wifi_strength_dbm": getattr(status, "wifi_strength", None),
        "ssid": getattr(status, "ssid", None),
        "uptime_s": getattr(status, "uptime_s", None),
        "temperature_c": getattr(status, "temperature_c", None),
        "free_disk_mb": round(free / 1024 / 1024) if isinstance(free, int | float) else None,
    }


# --------------------------------------------------------------------------- device lists


def devices(ports: PlayerPorts, account: str, *, max_age_s: float = DEVICES_FRESH_S) -> list[KnownDevice]:
    """The account's players from the cache, fetched again when older than `max_age_s`.
    A failed fetch falls back to the cached list; with none cached it raises."""
    cached = _cached(ports, account)
    if cached is not None and (ports.now() - cached[0]).total_seconds() < max_age_s:
        return cached[1]
    try:
        return _fetch(ports, account)
    except DomainError:
        if cached is None:
            raise
        log.warning("could not list the players of account %s; using the list of %s", account, cached[0])
        return cached[1]


def _cached(ports: PlayerPorts, account: str) -> tuple[datetime, list[KnownDevice]] | None:
    try:
        body = ports.settings.get(devices_key(account))
        listed_at = datetime.fromisoformat(body["at"])
        return listed_at, [KnownDevice(**{**d, "listed_at": listed_at}) for d in body["devices"]]
    except NotFound:
        return None
    except (KeyError, TypeError, ValueError):
        log.warning("the cached device list of account %s is unreadable; fetching it again", account)
        return None


def _fetch(ports: PlayerPorts, account: str) -> list[KnownDevice]:
    listed = ports.tokens.call(account, ports.cloud.list_devices)
    at = ports.now()
    found = []
    for device in listed:
        status = None
        try:
            status = ports.tokens.call(account, ports.cloud.device_status, device.device_id)
        except DomainError as exc:  # an optional source: the listing stands without it
            log.info("no REST status for player %s: %s", device.device_id, exc)
        found.append(
            KnownDevice(
                id=device.device_id,
                name=device.name,
                account=account,
                online=status.online if status is not None and status.online is not None else device.online,
                listed_at=at,
                **_shadow(status),
            )
        )
    body = {
        "at": at.isoformat(),
        "devices": [{k: v for k, v in vars(d).items() if k != "listed_at"} for d in found],
    }
    ports.settings.put(devices_key(account), body)
    return found


def all_devices(ports: PlayerPorts, *, max_age_s: float = DEVICES_FRESH_S) -> list[KnownDevice]:
    """Every linked account's players (an account that fails with nothing cached is left out)."""
    out: list[KnownDevice] = []
    failures: list[DomainError] = []
    accounts = ports.accounts()
    for account in accounts:
        try:
            out.extend(devices(ports, account, max_age_s=max_age_s))
        except DomainError as exc:
            log.warning("could not list the players of account %s: %s", account, exc)
            failures.append(exc)
    if accounts and not out and failures:
        raise failures[0]
    return out


def find_device(ports: PlayerPorts, player_id: str, *, who: User) -> KnownDevice:
    """The player among the linked accounts' players; `NotFound` if none has it, or
    if it is kept for another member (`may_use`)."""
    return _find(ports, player_id, allowed=may_use(ports.settings, who, player_id))


def _find(ports: PlayerPorts, player_id: str, *, allowed: bool) -> KnownDevice:
    if allowed:
        for device in all_devices(ports):
            if device.id == player_id:
                return device
        for device in all_devices(ports, max_age_s=UNKNOWN_REFRESH_S):  # perhaps added since the last look
            if device.id == player_id:
                return device
    raise NotFound(f"no linked Yoto account has a player {player_id!r}")


# --------------------------------------------------------------------------- mine only


def private_key(player_id: str) -> str:
    return f"player-private:{player_id}"


def kept_for(settings: SettingsRepository, player_id: str) -> str | None:
    """The member id a player is kept for ("mine only"), None when it is the family's."""
    try:
        value = settings.get(private_key(player_id))
    except NotFound:
        return None
    return str(value["member"]) if isinstance(value, dict) and value.get("member") else None


def may_use(settings: SettingsRepository, who: User, player_id: str) -> bool:
    """Whether `who` may see and drive the player: anyone, unless it is kept for one
    member; then that member and admins."""
    return who.is_admin or _allowed(who, kept_for(settings, player_id))


def _allowed(who: User, member: str | None) -> bool:
    return member is None or who.is_admin or member == who.owner_id


def set_private(ports: PlayerPorts, player_id: str, private: bool, *, who: User) -> PlayerView:
    """Keep the player for the member whose Yoto account has it (or give it back to the
    family); answers its view. For admins (the router's check)."""
    device = find_device(ports, player_id, who=who)
    if private:
        ports.settings.put(private_key(player_id), {"member": device.account})
    else:
        with contextlib.suppress(NotFound):  # SQLite's delete is idempotent, DynamoDB's raises
            ports.settings.delete(private_key(player_id))
    return view(device, _state(ports, player_id), ports.now(), private=private)


def player_ids(ports: PlayerPorts, account: str, *, max_age_s: float = 60) -> list[str]:
    """The account's player ids, for the listener (re-listed every minute)."""
    return [d.id for d in devices(ports, account, max_age_s=max_age_s)]


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class PlayerView:
    """One player as the API shows it: the REST device list merged with the
    MQTT state (`core.yoto.state.API_FIELDS`), when it was last heard, whose
    Yoto account has it and whether it is kept for that member."""

    id: str
    name: str
    online: bool
    volume: int | None
    playback_status: str
    card_id: str | None
    chapter_key: str | None
    track_key: str | None
    chapter_title: str | None
    track_title: str | None
    position_s: float | None
    track_length_s: float | None
    sleep_timer_s: float | None
    battery_percent: int | None
    charging: bool | None
    wifi_strength_dbm: float | None
    ssid: str | None
    uptime_s: float | None
    temperature_c: float | None
    free_disk_mb: int | None
    updated_at: str | None  # ISO 8601
    heard_at: str | None  # ISO 8601; None: nothing heard over MQTT yet
    stale: bool
    owner: str
    private: bool


def view(
    device: KnownDevice, state: PlayerState | None, now: datetime | None = None, *, private: bool = False
) -> PlayerView:
    """The API fields (`core.yoto.state.API_FIELDS`, `name`, `heard_at`, `stale`, `owner`, `private`) of one player."""
    merged: Mapping[str, Any] = state.state if state is not None else {}
    out = api_fields(device.id, merged, state.updated_at if state is not None else device.listed_at)
    mqtt_online = merged.get("online")
    if not isinstance(mqtt_online, bool) or (state is not None and state.updated_at < device.listed_at):
        out["online"] = device.online
    for field in (*_FROM_STATUS, "free_disk_mb"):
        if out[field] is None:
            out[field] = getattr(device, field)
    heard = state.updated_at if state is not None else None
    now = now or utcnow()
    out["heard_at"] = heard.isoformat() if heard else None
    out["stale"] = heard is None or (now - heard).total_seconds() > STALE_AFTER_S
    out["owner"] = name_of(device.account)
    out["private"] = private
    return PlayerView(**{**out, "id": device.id, "name": device.name})


def _state(ports: PlayerPorts, player_id: str) -> PlayerState | None:
    try:
        return ports.players.get_state(player_id)
    except NotFound:
        return None


def list_players(ports: PlayerPorts, *, who: User) -> list[PlayerView]:
    """The players `who` may see."""
    states = {s.player_id: s for s in ports.players.list_states()}
    now = ports.now()
    out = []
    for device in all_devices(ports):
        member = kept_for(ports.settings, device.id)
        if _allowed(who, member):
            out.append(view(device, states.get(device.id), now, private=member is not None))
    return out


def device_and_view(ports: PlayerPorts, player_id: str, *, who: User) -> tuple[KnownDevice, PlayerView]:
    member = kept_for(ports.settings, player_id)
    device = _find(ports, player_id, allowed=_allowed(who, member))
    return device, view(device, _state(ports, player_id), ports.now(), private=member is not None)


def get_player(ports: PlayerPorts, player_id: str, *, who: User) -> PlayerView:
    return device_and_view(ports, player_id, who=who)[1]


def known_offline(player: PlayerView, *, live: bool, now: datetime, fresh_s: float = 60) -> bool:
    """True when the player is offline by what we know for sure: the listener is
    live (so the MQTT state is current), or the offline report is under `fresh_s` old."""
    if player.online is not False:
        return False
    if live:
        return True
    updated = player.updated_at
    return updated is not None and now - datetime.fromisoformat(updated) < timedelta(seconds=fresh_s)
