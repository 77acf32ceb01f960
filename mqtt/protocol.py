"""Yoto MQTT conventions, each stated once: topic names and the volume scales.

Commands take volume 0–100; events report the device scale 0–16 together with
`volumeMax`. Topic spellings differ between Yoto's page and open-source
clients, so the player→us side subscribes to both until one is confirmed
(see shared/yoto-cloud.md).
"""

from __future__ import annotations

DEVICE_SCALE_MAX = 16
COMMAND_SCALE_MAX = 100

# player → us, per device; both spellings seen in public sources
_INBOUND = (
    "data/events",
    "data/status",
    "status/full",
    "response",
    "presence",
    "events",
    "status",
)
# us → player, under device/{id}/command/
COMMANDS = frozenset(
    {
        "events/request",
        "status/request",
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


def subscribe_topics(device_id: str) -> list[str]:
    _check_id(device_id)
    return [f"device/{device_id}/{suffix}" for suffix in _INBOUND]


def command_topic(device_id: str, command: str) -> str:
    _check_id(device_id)
    if command not in COMMANDS:
        raise ValueError(f"unknown Yoto command {command!r}")
    return f"device/{device_id}/command/{command}"


def parse_topic(topic: str) -> tuple[str, str] | None:
    """(device_id, kind) for an inbound topic; kind is events|status|response|presence."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != "device" or parts[2] not in _INBOUND:
        return None
    suffix = parts[2]
    kind = "status" if suffix in ("data/status", "status/full", "status") else suffix.removeprefix("data/")
    return parts[1], kind


def volume_to_device(percent: int | float) -> int:
    """0–100 (our API and command payloads) → 0–16 (what events report)."""
    clamped = min(max(float(percent), 0.0), COMMAND_SCALE_MAX)
    return round(clamped * DEVICE_SCALE_MAX / COMMAND_SCALE_MAX)


def volume_from_device(level: int | float, volume_max: int | float = DEVICE_SCALE_MAX) -> int:
    """0–`volume_max` device level (events) → 0–100 percent of the full scale."""
    if volume_max <= 0:
        raise ValueError("volumeMax must be positive")
    clamped = min(max(float(level), 0.0), float(volume_max))
    return round(clamped * COMMAND_SCALE_MAX / DEVICE_SCALE_MAX)


def _check_id(device_id: str) -> None:
    if not device_id or any(c in device_id for c in "/+#") or device_id.strip() != device_id:
        raise ValueError(f"invalid device id {device_id!r}")
