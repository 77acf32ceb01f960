"""Listening history from a player's stored events, on the memory records and a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.memory import MemoryRecords
from core.records import PlayerEvent
from services.listening import MAX_GAP_S, history

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _playing(minutes: float, card: str, track: str, title: str) -> PlayerEvent:
    payload = {"cardId": card, "chapterKey": "01", "trackKey": track, "trackTitle": title, "playbackStatus": "playing"}
    return PlayerEvent("p1", _at(minutes), "events", payload)


def _records() -> MemoryRecords:
    return MemoryRecords(clock=lambda: _at(0))


def test_minutes_and_plays_per_card_and_track_newest_window_only() -> None:
    records = _records()
    records.players.add_events(
        [
            _playing(-3 * 24 * 60, "old", "01", "Long ago"),  # outside a 1-day window
            _playing(0, "gruffalo", "01", "Part one"),
            _playing(10, "gruffalo", "02", "Part two"),
            PlayerEvent("p1", _at(15), "events", {"playbackStatus": "paused"}),
            _playing(20, "zog", "01", "Zog"),
            PlayerEvent("p1", _at(26), "presence", {"online": False}),
        ]
    )
    got = history(records.players, "p1", days=1, now=_at(60))
    assert [c["card_id"] for c in got["cards"]] == ["gruffalo", "zog"]
    gruffalo, zog = got["cards"]
    assert (gruffalo["plays"], gruffalo["minutes"]) == (2, 15.0)
    assert [(t["track_title"], t["minutes"]) for t in gruffalo["tracks"]] == [("Part one", 10.0), ("Part two", 5.0)]
    assert (zog["plays"], zog["minutes"]) == (1, 6.0)  # going offline ends the play
    assert (got["plays"], got["total_minutes"]) == (3, 21.0)


def test_a_long_silence_counts_at_most_the_gap_bound() -> None:
    records = _records()
    records.players.add_event(_playing(0, "gruffalo", "01", "Part one"))
    got = history(records.players, "p1", days=1, now=_at(240))
    assert got["total_minutes"] == round(MAX_GAP_S / 60, 1)


def test_another_players_events_and_an_empty_history() -> None:
    records = _records()
    records.players.add_event(PlayerEvent("p2", _at(0), "events", {"cardId": "x", "playbackStatus": "playing"}))
    got = history(records.players, "p1", days=7, now=_at(30))
    assert got["cards"] == [] and got["plays"] == 0 and got["total_minutes"] == 0
