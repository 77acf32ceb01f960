"""A player's merged state, and what the API shows of it. Pure.

The state dict (stored as `PlayerState.state` through the records port) has
three top-level entries, so a shallow `merge_state` of the changed ones is
enough: `events` (the latest value of every event key, Yoto's names), `status`
(the same for status keys) and `online`. Events are partial; when the card,
chapter or track changes, the titles and positions that belonged to the old
one are dropped unless the same event carries new ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.yoto.messages import Events, Message, Presence, Status
from core.yoto.protocol import DEVICE_SCALE_MAX, volume_from_device

NO_CARD = "none"
PLAYBACK_STATUSES = ("playing", "paused", "stopped")
# what belongs to the card, chapter or track that was playing
_SCOPED = {
    "cardId": ("chapterKey", "chapterTitle", "trackKey", "trackTitle", "trackLength", "position"),
    "chapterKey": ("chapterTitle", "trackKey", "trackTitle", "trackLength", "position"),
    "trackKey": ("trackTitle", "trackLength", "position"),
}

API_FIELDS = (
    "id",
    "online",
    "volume",
    "playback_status",
    "card_id",
    "chapter_key",
    "track_key",
    "chapter_title",
    "track_title",
    "position_s",
    "track_length_s",
    "sleep_timer_s",
    "battery_percent",
    "charging",
    "wifi_strength_dbm",
    "ssid",
    "uptime_s",
    "temperature_c",
    "free_disk_mb",
    "updated_at",
)


def merge_events(events: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(events)
    for key, stale in _SCOPED.items():
        if key in changes and changes[key] != events.get(key):
            for gone in stale:
                if gone not in changes:
                    merged.pop(gone, None)
    merged.update(changes)
    if changes.get("sleepTimerActive") is False and "sleepTimerSeconds" not in changes:
        merged["sleepTimerSeconds"] = 0
    return merged


def merge(state: Mapping[str, Any], message: Message) -> dict[str, Any]:
    """The top-level entries of `state` that `message` changes (empty: nothing).
    `{**state, **merge(state, message)}` is the new state."""
    if isinstance(message, Events):
        return {"events": merge_events(state.get("events") or {}, message.changes), "online": True}
    if isinstance(message, Status):
        return {"status": {**(state.get("status") or {}), **message.fields}, "online": True}
    if isinstance(message, Presence):
        return {"online": message.online}
    return {}


def api_fields(player_id: str, state: Mapping[str, Any], updated_at: datetime | None = None) -> dict[str, Any]:
    """Merged state → the fields `GET /api/players/{id}` shows (API_FIELDS)."""
    events: Mapping[str, Any] = state.get("events") or {}
    status: Mapping[str, Any] = state.get("status") or {}
    card = events.get("cardId")
    card_id = None if card in (None, "", NO_CARD) else card
    playback = _playback(events.get("playbackStatus"), has_card=card_id is not None)
    volume = None
    if isinstance(events.get("volume"), int | float):
        volume_max = events.get("volumeMax")
        if not isinstance(volume_max, int | float) or volume_max <= 0:
            volume_max = DEVICE_SCALE_MAX
        volume = volume_from_device(events["volume"], volume_max)
    sleep = events.get("sleepTimerSeconds")
    if events.get("sleepTimerActive") is False:
        sleep = 0
    battery = status.get("batteryLevel")
    online = state.get("online")
    return {
        "id": player_id,
        "online": bool(online) if online is not None else False,
        "volume": volume,
        "playback_status": playback,
        "card_id": card_id,
        "chapter_key": events.get("chapterKey") if card_id else None,
        "track_key": events.get("trackKey") if card_id else None,
        "chapter_title": events.get("chapterTitle") if card_id else None,
        "track_title": events.get("trackTitle") if card_id else None,
        "position_s": _number(events.get("position")) if card_id else None,
        "track_length_s": _number(events.get("trackLength")) if card_id else None,
        "sleep_timer_s": _number(sleep),
        "battery_percent": round(min(max(battery, 0), 100)) if isinstance(battery, int | float) else None,
        "charging": status.get("charging") if isinstance(status.get("charging"), bool) else None,
        "wifi_strength_dbm": _number(status.get("wifiStrength")),
        "ssid": status.get("ssid") if isinstance(status.get("ssid"), str) and status.get("ssid") else None,
        "uptime_s": _number(status.get("upTime")),
        "temperature_c": device_temperature(status.get("temp")),
        "free_disk_mb": round(status["freeDisk"] / 1024) if _number(status.get("freeDisk")) is not None else None,
        "updated_at": updated_at.isoformat() if updated_at else None,
    }


def device_temperature(temp: Any) -> int | float | None:
    """The device's °C from a status `temp` ("battery:device[:…]"); "0" and
    "notSupported" mean the player has no reading."""
    if not isinstance(temp, str):
        return None
    parts = temp.split(":")
    if len(parts) < 2:
        return None
    try:
        value = float(parts[1])
    except ValueError:
        return None
    if value == 0 or not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _playback(value: Any, *, has_card: bool) -> str:
    """playing|paused|stopped. No card is stopped; an unknown word (firmware may
    add some) with a card in reads as paused: we cannot tell it is playing."""
    if not has_card or value is None:
        return "stopped"
    return value if value in PLAYBACK_STATUSES else "paused"


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
