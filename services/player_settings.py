"""A player's settings and alarms, read and changed through Yoto's config block.

Yoto's PUT replaces the whole block, so every change is a read-modify-write of
the block as Yoto holds it, one at a time per player (a lease in the counters,
held across processes), keeping every key and alarm field it does not know.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from core.errors import Conflict, Invalid, NotFound, VersionConflict
from core.ports import CardRepository, CounterRepository
from core.records import User
from core.yoto import settings as codec
from core.yoto.cloud import DeviceConfig
from services import players
from services.players import KnownDevice, PlayerPorts

T = TypeVar("T")
LEASE_S = 30  # longer than one read and write of the config, with their retries
WAIT_S = 10.0  # how long a second change waits for the first


class ConfigCloud(Protocol):
    """The part of `core.yoto.cloud.YotoCloud` that reads and writes a player's config."""

    def get_config(self, token: str, device_id: str) -> DeviceConfig: ...

    def put_config(self, token: str, config: DeviceConfig) -> DeviceConfig: ...


@dataclass(frozen=True)
class SettingsPorts:
    players: PlayerPorts
    cloud: ConfigCloud
    counters: CounterRepository
    cards: CardRepository
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wait_s: float = WAIT_S


@dataclass(frozen=True)
class PlayerSettings:
    player_id: str
    model: str
    supported: list[str]
    values: dict[str, Any]


@dataclass(frozen=True)
class AlarmView:
    n: int
    days: list[str]
    time: str | None
    volume: int | None
    card_id: str | None
    sound: str | None
    enabled: bool


# --------------------------------------------------------------------------- the config, one writer at a time


@contextmanager
def _one_writer(ports: SettingsPorts, player_id: str) -> Iterator[None]:
    key = f"player-config:{player_id}"
    deadline = ports.clock() + ports.wait_s
    while True:
        try:
            if ports.counters.add(key, 1, ttl_s=LEASE_S) == 1:
                break
        except VersionConflict:
            pass  # contended: someone else is taking it
        if ports.clock() >= deadline:
            raise Conflict("another change to this player's settings is still being written; try again")
        ports.sleep(0.05)
    try:
        yield
    finally:
        ports.counters.reset(key)


def _read(ports: SettingsPorts, device: KnownDevice) -> DeviceConfig:
    return ports.players.tokens.call(device.account, ports.cloud.get_config, device.id)


def _rewrite(
    ports: SettingsPorts,
    device: KnownDevice,
    change: Callable[[Mapping[str, Any], str], tuple[dict[str, Any], T]],
) -> tuple[DeviceConfig, str, T]:
    """Read the block, let `change` say which keys to set, write the block with only
    those keys changed; answers the block as written, the model and `change`'s result."""
    with _one_writer(ports, device.id):
        current = _read(ports, device)
        model = codec.model_of(current.raw)
        try:
            changes, result = change(current.config, model)
        except codec.SettingError as exc:
            raise Invalid(str(exc)) from None
        written = current.merged(changes)
        if changes:
            ports.players.tokens.call(device.account, ports.cloud.put_config, written)
        return written, model, result


# --------------------------------------------------------------------------- settings


def _view(player_id: str, config: Mapping[str, Any], model: str) -> PlayerSettings:
    return PlayerSettings(player_id, model, codec.supported(model), codec.read_settings(config, model))


def get_settings(ports: SettingsPorts, who: User, player_id: str) -> PlayerSettings:
    device = players.find_device(ports.players, player_id, who=who)
    current = _read(ports, device)
    return _view(player_id, current.config, codec.model_of(current.raw))


def change_settings(ports: SettingsPorts, who: User, player_id: str, wanted: Mapping[str, Any]) -> PlayerSettings:
    """Set the given settings; `Invalid` (nothing written) for a value out of range or
    a setting the player's model lacks."""
    if not wanted:
        raise Invalid("name at least one setting to change")
    device = players.find_device(ports.players, player_id, who=who)
    written, model, _ = _rewrite(ports, device, lambda config, model: (codec.changes_for(config, model, wanted), None))
    return _view(player_id, written.config, model)


# --------------------------------------------------------------------------- alarms


def _family_cards(ports: SettingsPorts) -> set[str]:
    out: set[str] = set()
    cursor: str | None = None
    for _ in range(200):
        page = ports.cards.list(limit=200, cursor=cursor)
        out.update(c.yoto_card_id for c in page.items if c.yoto_card_id)
        cursor = page.next_cursor
        if not cursor:
            break
    return out


def _alarm_view(n: int, alarm: codec.Alarm, cards: set[str]) -> AlarmView:
    plays = alarm.plays
    is_card = plays is not None and plays in cards
    return AlarmView(
        n=n,
        days=alarm.days,
        time=alarm.time,
        volume=alarm.volume,
        card_id=plays if is_card else None,
        sound=None if is_card else plays,
        enabled=alarm.enabled,
    )


def list_alarms(ports: SettingsPorts, who: User, player_id: str) -> list[AlarmView]:
    """Every alarm in the config, those made in the Yoto app included."""
    device = players.find_device(ports.players, player_id, who=who)
    alarms = codec.parse_alarms(_read(ports, device).config)
    cards = _family_cards(ports) if alarms else set()
    return [_alarm_view(n, a, cards) for n, a in enumerate(alarms)]


def _typed(ports: SettingsPorts, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The alarm values to write: `card_id` (a card of the family's) or `sound` become what it plays."""
    values = {k: fields[k] for k in ("days", "time", "volume", "enabled") if k in fields}
    card_id, sound = fields.get("card_id"), fields.get("sound")
    if card_id and sound:
        raise Invalid("an alarm plays a card_id or a sound, not both")
    if card_id:
        if card_id not in _family_cards(ports):
            raise Invalid(f"card_id {card_id!r} is not one of the family's cards")
        values["plays"] = card_id
    elif sound is not None or "card_id" in fields:
        values["plays"] = sound or ""
    return values


def _alarms_change(
    ports: SettingsPorts, who: User, player_id: str, edit: Callable[[list[codec.Alarm]], int | None]
) -> tuple[list[codec.Alarm], int | None]:
    device = players.find_device(ports.players, player_id, who=who)

    def change(config: Mapping[str, Any], model: str) -> tuple[dict[str, Any], int | None]:
        alarms = codec.parse_alarms(config)
        n = edit(alarms)
        kept = [a for a in config.get("alarms") or [] if not isinstance(a, str)]  # never lose an entry
        return {"alarms": [a.encoded() for a in alarms] + kept}, n

    written, _, n = _rewrite(ports, device, change)
    return codec.parse_alarms(written.config), n


def add_alarm(ports: SettingsPorts, who: User, player_id: str, fields: Mapping[str, Any]) -> AlarmView:
    values = _typed(ports, fields)
    for needed in ("days", "time"):
        if needed not in values:
            raise Invalid(f"an alarm needs {needed}")

    def edit(alarms: list[codec.Alarm]) -> int:
        alarms.append(codec.new_alarm(**values))
        return len(alarms) - 1

    alarms, n = _alarms_change(ports, who, player_id, edit)
    assert n is not None
    return _alarm_view(n, alarms[n], _family_cards(ports))


def _index(alarms: list[codec.Alarm], n: int) -> int:
    if not 0 <= n < len(alarms):
        raise NotFound(f"the player has no alarm {n} (it has {len(alarms)})")
    return n


def edit_alarm(ports: SettingsPorts, who: User, player_id: str, n: int, fields: Mapping[str, Any]) -> AlarmView:
    values = _typed(ports, fields)
    if not values:
        raise Invalid("name at least one of days, time, volume, card_id, sound, enabled")

    def edit(alarms: list[codec.Alarm]) -> int:
        i = _index(alarms, n)
        alarms[i] = alarms[i].edited(**values)
        return i

    alarms, _ = _alarms_change(ports, who, player_id, edit)
    return _alarm_view(n, alarms[n], _family_cards(ports))


def delete_alarm(ports: SettingsPorts, who: User, player_id: str, n: int) -> None:
    def edit(alarms: list[codec.Alarm]) -> None:
        del alarms[_index(alarms, n)]

    _alarms_change(ports, who, player_id, edit)
