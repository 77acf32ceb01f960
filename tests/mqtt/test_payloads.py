"""Command payloads: exact bytes for good input, a reason for bad input."""

from __future__ import annotations

import json

import pytest

from core.yoto import payloads as p


def body(command: p.Command) -> object:
    return json.loads(command.payload) if command.payload else None


def test_a_targeted_play_sends_the_card_uri_zero_padded_keys_and_where_to_start() -> None:
    command = p.play("5WsQg", chapter=3, track=12, seconds_in=30)
    assert command.family == "card/start"
    # cutOff and anyButtonStop are optional on Yoto's MQTT page: not sent unless asked for
    assert body(command) == {"uri": "https://yoto.io/5WsQg", "chapterKey": "03", "trackKey": "12", "secondsIn": 30}
    assert b" " not in command.payload
    assert body(p.play("abc", chapter=2)) == {"uri": "https://yoto.io/abc", "chapterKey": "02", "secondsIn": 0}
    assert body(p.play("abc", seconds_in=40)) == {"uri": "https://yoto.io/abc", "secondsIn": 40}
    assert p.padded_key(123) == "123"


def test_a_plain_play_sends_the_uri_alone_so_the_player_resumes() -> None:
    """No `secondsIn`: a player told where to start would start there, not where the child left off."""
    assert body(p.play("abc")) == {"uri": "https://yoto.io/abc"}


def test_a_chapter_key_is_sent_as_the_card_has_it() -> None:
    """Shop cards have keys such as "01-INT"; next/previous name the key they read."""
    assert body(p.play("iYIMF", chapter_key="01-INT")) == {
        "uri": "https://yoto.io/iYIMF",
        "chapterKey": "01-INT",
        "secondsIn": 0,
    }


def test_the_full_status_request_carries_a_request_id() -> None:
    command = p.full_status_request("a1b2")
    assert (command.family, body(command)) == ("status", {"requestId": "a1b2"})


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: p.play(""), "card_id"),
        (lambda: p.play("a/b"), "card_id"),
        (lambda: p.play("abc", chapter=0), "chapter"),
        (lambda: p.play("abc", track=1.5), "track"),
        (lambda: p.play("abc", seconds_in=-1), "seconds_in"),
        (lambda: p.play("abc", chapter=1, chapter_key="01"), "not both"),
        (lambda: p.play("abc", chapter_key="01/x"), "chapter_key"),
        (lambda: p.full_status_request("a/b"), "request_id"),
        (lambda: p.volume(101), "volume"),
        (lambda: p.volume(True), "volume"),
        (lambda: p.volume(float("nan")), "volume"),
        (lambda: p.volume("50"), "volume"),  # type: ignore[arg-type]
        (lambda: p.sleep_timer(-1), "minutes"),
        (lambda: p.sleep_timer(24 * 60 + 1), "minutes"),
        (lambda: p.ambient("#12345"), "hex"),
        (lambda: p.ambient("#123456", r=1), "either"),
        (lambda: p.ambient(r=1, g=2), "ambient"),
        (lambda: p.ambient(r=256, g=0, b=0), "r must"),
    ],
)
def test_bad_commands_are_refused_with_a_reason(build: object, reason: str) -> None:
    with pytest.raises(p.InvalidCommand, match=reason):
        build()  # type: ignore[operator]


def test_simple_commands() -> None:
    assert [(c.family, c.payload) for c in (p.pause(), p.resume(), p.stop())] == [
        ("card/pause", b""),
        ("card/resume", b""),
        ("card/stop", b""),
    ]
    assert body(p.volume(55)) == {"volume": 55}
    assert body(p.sleep_timer(0)) == {"seconds": 0}
    assert body(p.sleep_timer(30)) == {"seconds": 1800}
    assert p.events_request().family == "events/request"
    assert p.status_request().family == "status/request"


def test_ambient_from_hex_or_rgb() -> None:
    assert body(p.ambient("#FF8000")) == {"r": 255, "g": 128, "b": 0}
    assert body(p.ambient("0f0")) == {"r": 0, "g": 255, "b": 0}
    assert body(p.ambient(r=1, g=2, b=3)) == {"r": 1, "g": 2, "b": 3}


def test_adjacent_chapter() -> None:
    keys = ["01", "02", "03"]
    assert p.adjacent_chapter(keys, "01", 1) == "02"
    assert p.adjacent_chapter(keys, "03", 1) is None
    assert p.adjacent_chapter(keys, "01", -1) is None
    assert p.adjacent_chapter(keys, "03", -1) == "02"
    assert p.adjacent_chapter(keys, None, 1) == "01"
    assert p.adjacent_chapter([], "01", 1) is None
