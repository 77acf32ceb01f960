"""Yoto MQTT conventions, each stated once: topic names, client ids, the
authorizer's login shape, the broker's subscription limits and the volume scales.

Commands take volume 0–100; events report the device scale 0–16 together with
`volumeMax`, and the player only knows 17 steps. Sources and marks: `docs/yoto.md`.
"""

from __future__ import annotations

import math
import secrets

DEVICE_SCALE_MAX = 16
COMMAND_SCALE_MAX = 100
# The 17 volume steps a player knows, as percentages: 0, 7, 13 … 94, 100.
VOLUME_STEPS: tuple[int, ...] = tuple(math.ceil(k * COMMAND_SCALE_MAX / DEVICE_SCALE_MAX) for k in range(17))

# player → us, per device: what we subscribe to (each carries data we use)
SUBSCRIBED = (
    "data/events",
    "data/status",
    "status/full",
    "response",
    "presence",
)
# legacy spellings a player also publishes on: `events` duplicates `data/events`,
# `status` is a diagnostics feed. Parsed if they arrive, never subscribed to.
LEGACY = ("events", "status")
_INBOUND = SUBSCRIBED + LEGACY
# AWS IoT Core, Yoto's broker: at most 8 topic filters in one SUBSCRIBE and 50
# subscriptions per connection; a client asking for more is refused.
MAX_FILTERS_PER_SUBSCRIBE = 8
MAX_SUBSCRIPTIONS_PER_CONNECTION = 50
PLAYERS_PER_CONNECTION = MAX_SUBSCRIPTIONS_PER_CONNECTION // len(SUBSCRIBED)
# us → player, under device/{id}/command/
COMMANDS = frozenset(
    {
        "events/request",
        "status/request",
        "status",
        "volume/set",
        "ambients/set",
        "sleep-timer/set",
        "reboot",
        "card/pause",
        "card/resume",
        "card/stop",
        "card/start",
    }
)
COMMAND_PREFIX = "command/"
CLIENT_ID_MAX = 64


def subscribe_topics(device_id: str) -> list[str]:
    """The filters the listener subscribes to for one player (one SUBSCRIBE's worth)."""
    _check_id(device_id)
    return [f"device/{device_id}/{suffix}" for suffix in SUBSCRIBED]


def response_topic(device_id: str) -> str:
    _check_id(device_id)
    return f"device/{device_id}/response"


def presence_topic(device_id: str) -> str:
    _check_id(device_id)
    return f"device/{device_id}/presence"


def player_topic(device_id: str, suffix: str) -> str:
    """An inbound topic of a player (what a player publishes on), e.g. `data/events`."""
    _check_id(device_id)
    if suffix not in _INBOUND:
        raise ValueError(f"unknown player topic {suffix!r}")
    return f"device/{device_id}/{suffix}"


def command_topic(device_id: str, command: str) -> str:
    _check_id(device_id)
    if command not in COMMANDS:
        raise ValueError(f"unknown Yoto command {command!r}")
    return f"device/{device_id}/{COMMAND_PREFIX}{command}"


def command_subscription(device_id: str) -> str:
    """The filter a player listens on for every command addressed to it."""
    _check_id(device_id)
    return f"device/{device_id}/{COMMAND_PREFIX}#"


def parse_topic(topic: str) -> tuple[str, str] | None:
    """(device_id, kind) for an inbound topic; kind is events|status|response|presence
    (a legacy spelling gives the same kind as its `data/` twin)."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != "device" or parts[2] not in _INBOUND:
        return None
    suffix = parts[2]
    kind = "status" if suffix in ("data/status", "status/full", "status") else suffix.removeprefix("data/")
    return parts[1], kind


def parse_command_topic(topic: str) -> tuple[str, str] | None:
    """(device_id, command) for a topic under device/{id}/command/, else None."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != "device" or not parts[2].startswith(COMMAND_PREFIX):
        return None
    return parts[1], parts[2].removeprefix(COMMAND_PREFIX)


def is_full_status_topic(topic: str) -> bool:
    return topic.endswith("/status/full")


def client_id(prefix: str = "yss") -> str:
    """A fresh client id of letters and digits only: Yoto's authorizer rejects
    anything else (a `-` makes the client loop on disconnect code 7)."""
    return (only_alnum(prefix) + secrets.token_hex(8))[:CLIENT_ID_MAX]


def only_alnum(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isalnum())


def authorizer_username(authorizer: str, who: str = "yoto-smart-stream") -> str:
    """The username AWS IoT routes to a custom authorizer; the password is the token."""
    return f"{who}?x-amz-customauthorizer-name={authorizer}"


def volume_to_device(percent: int | float) -> int:
    """0–100 (our API and command payloads) → the nearest of the 17 device steps (0–16)."""
    clamped = min(max(float(percent), 0.0), COMMAND_SCALE_MAX)
    # nearest step; a tie goes to the louder one
    return min(range(len(VOLUME_STEPS)), key=lambda k: (abs(VOLUME_STEPS[k] - clamped), -k))


def volume_from_device(level: int | float, volume_max: int | float = DEVICE_SCALE_MAX) -> int:
    """0–16 device level (events), capped at `volume_max` → the step's percentage."""
    if volume_max <= 0:
        raise ValueError("volumeMax must be positive")
    clamped = min(max(float(level), 0.0), float(volume_max), float(DEVICE_SCALE_MAX))
    return VOLUME_STEPS[round(clamped)]


def volume_step(percent: int | float, volume_max: int | float = DEVICE_SCALE_MAX) -> int:
    """What a volume command of `percent` comes back as from a player capped at `volume_max`."""
    return volume_from_device(volume_to_device(percent), volume_max)


def _check_id(device_id: str) -> None:
    if not device_id or any(c in device_id for c in "/+#") or device_id.strip() != device_id:
        raise ValueError(f"invalid device id {device_id!r}")
