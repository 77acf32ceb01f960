"""Topic names and the volume scales: the one place they are converted."""

from __future__ import annotations

import pytest

from mqtt.protocol import command_topic, parse_topic, subscribe_topics, volume_from_device, volume_to_device


def test_subscribes_to_both_spellings_of_inbound_topics() -> None:
    topics = subscribe_topics("abc123")
    assert "device/abc123/data/events" in topics
    assert "device/abc123/events" in topics
    assert "device/abc123/status/full" in topics
    assert "device/abc123/presence" in topics
    assert all(t.startswith("device/abc123/") for t in topics)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("device/p1/data/events", ("p1", "events")),
        ("device/p1/events", ("p1", "events")),
        ("device/p1/data/status", ("p1", "status")),
        ("device/p1/status/full", ("p1", "status")),
        ("device/p1/response", ("p1", "response")),
        ("device/p1/presence", ("p1", "presence")),
        ("device/p1/command/volume/set", None),
        ("other/p1/events", None),
    ],
)
def test_parse_topic(topic: str, expected: tuple[str, str] | None) -> None:
    assert parse_topic(topic) == expected


def test_command_topics_are_checked() -> None:
    assert command_topic("p1", "volume/set") == "device/p1/command/volume/set"
    with pytest.raises(ValueError, match="unknown"):
        command_topic("p1", "volume/explode")
    with pytest.raises(ValueError, match="device id"):
        command_topic("p1/#", "reboot")


@pytest.mark.parametrize(("percent", "level"), [(0, 0), (50, 8), (100, 16), (3, 0), (4, 1), (150, 16), (-5, 0)])
def test_volume_to_device(percent: int, level: int) -> None:
    assert volume_to_device(percent) == level


def test_volume_round_trips_on_every_device_level() -> None:
    for level in range(17):
        assert volume_to_device(volume_from_device(level)) == level
    with pytest.raises(ValueError):
        volume_from_device(3, 0)
