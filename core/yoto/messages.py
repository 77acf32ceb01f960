"""What players send us, parsed: bytes and a topic in, one typed message out.

Pure and total: every payload gives a message, a broken one a `Malformed`
(never an exception), so one bad radio title cannot stop the listener. Bytes
are decoded as UTF-8 with replacement (some firmware sends invalid UTF-8 with
live radio streams). Known keys are coerced to their type; a known key whose
value cannot be coerced is dropped and named in `rejected`; unknown scalar keys
are kept as they came, so nothing the firmware adds is lost.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.yoto.protocol import is_full_status_topic, parse_topic

RAW_KEEP = 200  # characters of a malformed payload kept for the log


def _num(value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, str):
        value = float(value.strip())
        value = int(value) if value.is_integer() else value
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError
    return value


def _int(value: Any) -> int:
    return round(_num(value))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise TypeError


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError


EVENT_KEYS: dict[str, Callable[[Any], Any]] = {
    "eventUtc": _int,
    "cardId": _text,
    "chapterKey": _text,
    "chapterTitle": _text,
    "trackKey": _text,
    "trackTitle": _text,
    "trackLength": _num,
    "position": _num,
    "source": _text,
    "playbackStatus": _text,
    "playbackWait": _flag,
    "repeatAll": _flag,
    "streaming": _flag,
    "volume": _num,
    "volumeMax": _num,
    "sleepTimerActive": _flag,
    "sleepTimerSeconds": _num,
}
# data/status carries the first group; status/full (and the REST shadow) add the rest.
STATUS_KEYS: dict[str, Callable[[Any], Any]] = {
    "batteryLevel": _num,
    "charging": _flag,
    "headphones": _flag,
    "bluetoothHp": _flag,
    "volume": _num,  # the player's maximum, 0–100
    "userVolume": _num,  # the volume the child set, 0–100
    "freeDisk": _num,  # KiB
    "nightlightMode": _text,
    "activeCard": _text,
    "cardInserted": _int,
    "day": _int,
    "als": _num,
    "fwVersion": _text,
    "productType": _text,
    "ssid": _text,
    "wifiStrength": _num,
    "upTime": _num,
    "totalDisk": _num,
    "battery": _num,  # mV
    "batteryTemp": _num,
    "powerSrc": _int,
    "temp": _text,  # "battery:device[:…]", each part a number, "0" or "notSupported"
    "shutDown": _text,
}
_ACK_WORDS = {"OK": True, "FAIL": False, "FAILED": False, "ERROR": False}
_REASON_KEYS = ("reason", "error", "message", "detail")


@dataclass(frozen=True)
class Events:
    """A partial playback event: only what changed."""

    player_id: str
    changes: dict[str, Any]
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True)
class Status:
    player_id: str
    fields: dict[str, Any]
    full: bool = False  # the answer to a status request (status/full)
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ack:
    """A command's acknowledgement: which command keys said OK (True) or FAIL (False)."""

    player_id: str
    results: dict[str, bool]
    req_body: Any = None  # usually the payload we sent, as a string; None when absent
    reason: str | None = None


@dataclass(frozen=True)
class Presence:
    player_id: str
    online: bool
    at_ms: int | None = None  # the payload's `ts` (epoch milliseconds), when it has one


@dataclass(frozen=True)
class Malformed:
    player_id: str | None
    topic: str
    reason: str
    raw: str = field(default="", repr=False)


Message = Events | Status | Ack | Presence | Malformed


def decode(payload: bytes) -> str:
    return payload.decode("utf-8", errors="replace")


def parse_message(topic: str, payload: bytes) -> Message:
    where = parse_topic(topic)
    text = decode(payload)
    if where is None:
        return Malformed(None, topic, "not a player topic", text[:RAW_KEEP])
    player_id, kind = where
    try:
        if kind == "presence":
            return _presence(player_id, topic, text)
        body = json.loads(text)
    except _NotUnderstood as exc:
        return Malformed(player_id, topic, str(exc), text[:RAW_KEEP])
    except (ValueError, RecursionError) as exc:
        return Malformed(player_id, topic, f"not JSON: {exc}", text[:RAW_KEEP])
    if not isinstance(body, dict):
        return Malformed(player_id, topic, "not a JSON object", text[:RAW_KEEP])
    if kind == "events":
        changes, rejected = _coerce(body, EVENT_KEYS)
        return Events(player_id, changes, rejected)
    if kind == "status":
        inner = body.get("status") if isinstance(body.get("status"), dict) else body
        fields, rejected = _coerce(inner, STATUS_KEYS)
        return Status(player_id, fields, full=is_full_status_topic(topic), rejected=rejected)
    return _ack(player_id, topic, body, text)


class _NotUnderstood(ValueError):
    pass


def _coerce(
    body: Mapping[str, Any], known: Mapping[str, Callable[[Any], Any]]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    out: dict[str, Any] = {}
    rejected: list[str] = []
    for key, value in body.items():
        convert = known.get(key)
        if convert is None:
            if value is None or isinstance(value, str | int | float | bool):
                out[key] = value
            continue
        try:
            out[key] = convert(value)
        except (TypeError, ValueError, OverflowError):
            rejected.append(key)
    return out, tuple(rejected)


def _ack(player_id: str, topic: str, body: dict[str, Any], text: str) -> Message:
    inner = body.get("status") if isinstance(body.get("status"), dict) else body
    results: dict[str, bool] = {}
    reason = None
    for key, value in inner.items():
        if isinstance(value, str) and value.strip().upper() in _ACK_WORDS and key != "req_body":
            results[key] = _ACK_WORDS[value.strip().upper()]
    for key in _REASON_KEYS:
        if isinstance(inner.get(key), str) and inner[key].strip():
            reason = inner[key].strip()
            break
    if not results:
        return Malformed(player_id, topic, "a response without an OK or FAIL", text[:RAW_KEEP])
    return Ack(player_id, results, inner.get("req_body"), reason)


_PRESENCE_WORDS = {"online": True, "offline": False}


def _presence(player_id: str, topic: str, text: str) -> Presence:
    """Yoto's form is `{"state": "online"|"offline", "ts": <epoch ms>}`; the older
    guesses (a bare word, `{"online": bool}`, `{"status": word}`) are still accepted."""
    word = text.strip().strip('"').strip().lower()
    if word in _PRESENCE_WORDS:
        return Presence(player_id, _PRESENCE_WORDS[word])
    body = json.loads(text)  # ValueError: not JSON, reported by the caller
    if isinstance(body, dict):
        at = body.get("ts")
        at_ms = round(at) if isinstance(at, int | float) and not isinstance(at, bool) and math.isfinite(at) else None
        for key in ("state", "status"):
            value = body.get(key)
            if isinstance(value, str) and value.strip().lower() in _PRESENCE_WORDS:
                return Presence(player_id, _PRESENCE_WORDS[value.strip().lower()], at_ms)
        if isinstance(body.get("online"), bool):
            return Presence(player_id, body["online"], at_ms)
    raise _NotUnderstood("presence is neither online nor offline")
