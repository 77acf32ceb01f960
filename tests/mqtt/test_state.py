"""Merging partial events into a player's state, and the API's view of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.yoto.messages import Ack, Events, Malformed, Presence, Status
from core.yoto.state import API_FIELDS, api_fields, device_temperature, merge, merge_events


def apply(state: dict, *messages: object) -> dict:
    for message in messages:
        state = {**state, **merge(state, message)}  # type: ignore[arg-type]
    return state


PLAYING = {
    "cardId": "c1",
    "chapterKey": "01",
    "chapterTitle": "One",
    "trackKey": "01",
    "trackTitle": "Intro",
    "trackLength": 120,
    "position": 10,
    "playbackStatus": "playing",
    "volume": 8,
    "volumeMax": 16,
}


def test_partial_events_keep_what_they_do_not_mention() -> None:
    state = apply({}, Events("p1", PLAYING), Events("p1", {"position": 20}))
    assert state["events"] == {**PLAYING, "position": 20}
    assert state["online"] is True


def test_a_new_track_drops_the_old_titles_unless_sent() -> None:
    events = merge_events(PLAYING, {"trackKey": "02"})
    assert "trackTitle" not in events and "position" not in events and events["chapterTitle"] == "One"
    events = merge_events(PLAYING, {"chapterKey": "02", "chapterTitle": "Two", "trackKey": "02", "trackTitle": "B"})
    assert (events["chapterTitle"], events["trackTitle"]) == ("Two", "B")
    assert merge_events(PLAYING, {"cardId": "c2"}) == {
        "cardId": "c2",
        "playbackStatus": "playing",
        "volume": 8,
        "volumeMax": 16,
    }
    assert merge_events(PLAYING, {"cardId": "c1", "position": 11})["trackTitle"] == "Intro"


def test_sleep_timer_off_clears_the_seconds() -> None:
    events = merge_events({"sleepTimerActive": True, "sleepTimerSeconds": 300}, {"sleepTimerActive": False})
    assert events["sleepTimerSeconds"] == 0


def test_status_presence_ack_and_malformed() -> None:
    state = apply({}, Status("p1", {"batteryLevel": 90}), Status("p1", {"charging": True}, full=True))
    assert state["status"] == {"batteryLevel": 90, "charging": True}
    state = apply(state, Presence("p1", False))
    assert state["online"] is False
    assert merge(state, Ack("p1", {"card-play": True})) == {}
    assert merge(state, Malformed("p1", "t", "bad")) == {}


def test_api_fields_of_a_playing_player() -> None:
    at = datetime(2024, 5, 1, 19, 0, tzinfo=UTC)
    state = apply(
        {},
        Events("p1", {**PLAYING, "volumeMax": 8, "sleepTimerActive": True, "sleepTimerSeconds": 600}),
        Status("p1", {"batteryLevel": 101, "charging": False}),
    )
    fields = api_fields("p1", state, at)
    assert tuple(fields) == API_FIELDS
    assert fields == {
        "id": "p1",
        "online": True,
        "volume": 50,
        "playback_status": "playing",
        "card_id": "c1",
        "chapter_key": "01",
        "track_key": "01",
        "chapter_title": "One",
        "track_title": "Intro",
        "position_s": 10,
        "track_length_s": 120,
        "sleep_timer_s": 600,
        "battery_percent": 100,
        "charging": False,
        "wifi_strength_dbm": None,
        "ssid": None,
        "uptime_s": None,
        "temperature_c": None,
        "free_disk_mb": None,
        "updated_at": "2024-05-01T19:00:00+00:00",
    }


def test_api_fields_without_a_card_or_any_state() -> None:
    empty = api_fields("p2", {})
    assert empty["online"] is False and empty["playback_status"] == "stopped" and empty["volume"] is None
    assert all(empty[k] is None for k in ("card_id", "chapter_key", "position_s", "battery_percent", "updated_at"))
    no_card = api_fields("p2", apply({}, Events("p2", {**PLAYING, "cardId": "none"})))
    assert no_card["card_id"] is None and no_card["playback_status"] == "stopped" and no_card["track_title"] is None
    odd = api_fields("p2", apply({}, Events("p2", {"cardId": "c1", "playbackStatus": "buffering"})))
    assert odd["playback_status"] == "paused"


def test_the_full_status_shows_wifi_ssid_uptime_temperature_and_disk() -> None:
    status = {"wifiStrength": -48, "ssid": "home", "upTime": 3600, "temp": "0:24", "freeDisk": 6_000_000}
    fields = api_fields("p1", {"status": status})
    assert (fields["wifi_strength_dbm"], fields["ssid"], fields["uptime_s"]) == (-48, "home", 3600)
    assert (fields["temperature_c"], fields["free_disk_mb"]) == (24, 5859)


@pytest.mark.parametrize(("temp", "celsius"), [("0:0:0", None), ("12:notSupported", None), ("21", None), (24, None)])
def test_a_temperature_the_player_cannot_read_is_none(temp: object, celsius: None) -> None:
    assert device_temperature(temp) is celsius
