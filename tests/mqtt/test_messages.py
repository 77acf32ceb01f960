"""Parsing what players send: typed results, and `Malformed` instead of exceptions."""

from __future__ import annotations

import pytest

from core.yoto.messages import Ack, Events, Malformed, Presence, Status, parse_message


def test_partial_event_is_coerced() -> None:
    msg = parse_message(
        "device/p1/data/events",
        b'{"eventUtc": 1700000000, "volume": "8", "volumeMax": 16, "playbackStatus": "playing",'
        b' "streaming": 1, "position": 12.5, "firmwareThing": "x"}',
    )
    assert msg == Events(
        "p1",
        {
            "eventUtc": 1700000000,
            "volume": 8,
            "volumeMax": 16,
            "playbackStatus": "playing",
            "streaming": True,
            "position": 12.5,
            "firmwareThing": "x",
        },
    )


def test_both_event_spellings() -> None:
    assert isinstance(parse_message("device/p1/events", b'{"cardId": "abc"}'), Events)


def test_uncoercible_known_keys_are_dropped_and_named() -> None:
    msg = parse_message("device/p1/data/events", b'{"volume": "loud", "position": NaN, "cardId": "c1", "x": [1]}')
    assert isinstance(msg, Events)
    assert msg.changes == {"cardId": "c1"}
    assert set(msg.rejected) == {"volume", "position"}


def test_invalid_utf8_is_decoded_with_replacement() -> None:
    msg = parse_message("device/p1/data/events", b'{"trackTitle": "Radio \xff\xfe One"}')
    assert isinstance(msg, Events)
    assert msg.changes["trackTitle"] == "Radio \ufffd\ufffd One"


def test_status_arrives_wrapped_or_bare_and_full_is_marked() -> None:
    wrapped = parse_message("device/p1/data/status", b'{"status": {"batteryLevel": 80, "charging": 0}}')
    assert wrapped == Status("p1", {"batteryLevel": 80, "charging": False}, full=False)
    full = parse_message("device/p1/status/full", b'{"batteryLevel": 79, "ssid": "home", "temp": "0:21"}')
    assert full == Status("p1", {"batteryLevel": 79, "ssid": "home", "temp": "0:21"}, full=True)


# A Mini's data/status as bcomnes/yoto-nodejs-client captured it (collected-data/on-event.txt)
CAPTURED_STATUS = (
    b'{"status": {"statusVersion": 1, "fwVersion": "v2.23.2", "productType": "mini", "batteryLevel": 100,'
    b' "als": 0, "freeDisk": 25160368, "shutdownTimeout": 3600, "dbatTimeout": 60, "charging": 0,'
    b' "activeCard": "none", "cardInserted": 0, "playingStatus": 0, "headphones": 0, "dnowBrightness": 100,'
    b' "dayBright": 100, "nightBright": 1, "bluetoothHp": 0, "volume": 55, "userVolume": 50,'
    b' "timeFormat": "12", "day": -1}}'
)


def test_a_captured_status_parses_with_nothing_rejected() -> None:
    status = parse_message("device/y2iYT7ItkMRWbuMzTDuGjgmS/data/status", CAPTURED_STATUS)
    assert isinstance(status, Status) and status.rejected == ()
    assert (status.fields["batteryLevel"], status.fields["charging"], status.fields["userVolume"]) == (100, False, 50)
    assert status.fields["productType"] == "mini" and status.fields["day"] == -1


def test_a_full_status_with_the_temperature_pair_keeps_it() -> None:
    """Today's `temp` is "battery:device[:…]"; a number-only parser dropped it as malformed."""
    full = parse_message("device/p1/status/full", b'{"status": {"temp": "0:0:0", "wifiStrength": -26, "upTime": 12}}')
    assert isinstance(full, Status) and full.full and full.rejected == ()
    assert full.fields == {"temp": "0:0:0", "wifiStrength": -26, "upTime": 12}


@pytest.mark.parametrize(
    ("payload", "results", "req_body", "reason"),
    [
        (b'{"status": {"card-play": "OK", "req_body": "{\\"uri\\":1}"}}', {"card-play": True}, '{"uri":1}', None),
        (b'{"status": {"volume/set": "FAIL", "req_body": "", "reason": "busy"}}', {"volume/set": False}, "", "busy"),
        (b'{"card/pause": "ok"}', {"card/pause": True}, None, None),
    ],
)
def test_acks(payload: bytes, results: dict[str, bool], req_body: object, reason: str | None) -> None:
    assert parse_message("device/p1/response", payload) == Ack("p1", results, req_body, reason)


def test_yotos_presence_and_its_last_will() -> None:
    """`{"state", "ts"}`, retained, "offline" the broker's last will (cdnninja/yoto_api's parser and its live probe)."""
    assert parse_message("device/p1/presence", b'{"state":"online","ts":1766515283000}') == Presence(
        "p1", True, 1766515283000
    )
    assert parse_message("device/p1/presence", b'{"state": "offline"}') == Presence("p1", False)


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b"offline", False),
        (b"online", True),
        (b'"online"', True),
        (b'{"online": false}', False),
        (b'{"status": "Online"}', True),
    ],
)
def test_older_presence_shapes_are_still_accepted(payload: bytes, online: bool) -> None:
    assert parse_message("device/p1/presence", payload) == Presence("p1", online)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("device/p1/data/events", b"\xff\xfe\x00", "not JSON"),
        ("device/p1/data/events", b"{not json", "not JSON"),
        ("device/p1/data/events", b"[1, 2]", "not a JSON object"),
        ("device/p1/data/events", b"", "not JSON"),
        ("device/p1/data/events", b"[" * 100_000, "not JSON"),
        ("device/p1/data/status", b'"status"', "not a JSON object"),
        ("device/p1/response", b'{"status": {"req_body": "x"}}', "OK or FAIL"),
        ("device/p1/presence", b"maybe", "not JSON"),
        ("device/p1/presence", b'{"online": "yes"}', "neither"),
        ("device/p1/presence", b'{"state": "asleep", "ts": 1}', "neither"),
        ("elsewhere/p1/events", b"{}", "not a player topic"),
    ],
)
def test_malformed_payloads_give_a_typed_result(topic: str, payload: bytes, reason: str) -> None:
    msg = parse_message(topic, payload)
    assert isinstance(msg, Malformed)
    assert reason in msg.reason
    assert len(msg.raw) <= 200
