"""Topic names and the volume scales: the one place they are converted."""

from __future__ import annotations

import pytest

from core.yoto.protocol import (
    MAX_FILTERS_PER_SUBSCRIBE,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    PLAYERS_PER_CONNECTION,
    VOLUME_STEPS,
    authorizer_username,
    client_id,
    command_subscription,
    command_topic,
    only_alnum,
    parse_command_topic,
    parse_topic,
    player_topic,
    subscribe_topics,
    volume_from_device,
    volume_step,
    volume_to_device,
)


def test_subscribes_to_what_carries_data_within_one_subscribe() -> None:
    """Not the legacy `events` (a copy of data/events) nor `status` (diagnostics); one
    player's filters fit one SUBSCRIBE of AWS IoT Core (8), ten players one connection (50)."""
    topics = subscribe_topics("abc123")
    assert topics == [
        "device/abc123/data/events",
        "device/abc123/data/status",
        "device/abc123/status/full",
        "device/abc123/response",
        "device/abc123/presence",
    ]
    assert len(topics) <= MAX_FILTERS_PER_SUBSCRIBE
    assert PLAYERS_PER_CONNECTION * len(topics) <= MAX_SUBSCRIPTIONS_PER_CONNECTION == 50
    assert PLAYERS_PER_CONNECTION == 10


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


def test_volume_has_seventeen_steps_and_commands_land_on_the_nearest() -> None:
    assert len(VOLUME_STEPS) == 17
    assert VOLUME_STEPS[:3] == (0, 7, 13) and VOLUME_STEPS[-1] == 100
    assert volume_step(50) == 50
    assert volume_step(48) == 50
    assert volume_step(10) == 13  # a tie between 7 and 13 goes to the louder
    assert volume_step(100, volume_max=10) == VOLUME_STEPS[10]


def test_volume_from_device_caps_at_volume_max() -> None:
    assert volume_from_device(16, 8) == 50
    assert volume_from_device(4, 8) == 25
    assert volume_from_device(20) == 100


def test_client_ids_are_letters_and_digits_only_and_unique() -> None:
    ids = {client_id("yss-listener_1"), client_id("yss-listener_1")}
    assert len(ids) == 2
    assert all(i.isascii() and i.isalnum() and i.startswith("ysslistener1") for i in ids)
    assert only_alnum("ab-12/é") == "ab12"


def test_authorizer_username_names_the_authorizer() -> None:
    assert authorizer_username("PublicJWTAuthorizer") == (
        "yoto-smart-stream?x-amz-customauthorizer-name=PublicJWTAuthorizer"
    )


def test_command_topics_parse_back() -> None:
    topic = command_topic("p1", "card/start")
    assert parse_command_topic(topic) == ("p1", "card/start")
    assert parse_command_topic("device/p1/data/events") is None
    assert command_subscription("p1") == "device/p1/command/#"
    assert player_topic("p1", "data/events") == "device/p1/data/events"
    with pytest.raises(ValueError):
        player_topic("p1", "command/reboot")
