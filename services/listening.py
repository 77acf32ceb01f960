"""Listening history: what a player played, per card and track, from its event history.

The listener stores every MQTT message as a `PlayerEvent` (kept
`PLAYER_HISTORY_DAYS`, 90 by default). Replaying a window of them through the
same merge as the live state gives the playback state at every moment; time
spent `playing` is credited to the card, chapter and track that were playing.
A play is counted each time a track starts playing (a new track, or playing
again after a pause or stop). The gap between two events counts at most
`MAX_GAP_S`: a player whose events stopped arriving (no listener running,
or it went away without a last will) is not credited for hours it may not have
played. The history is therefore only as complete as the listener's uptime.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.ports import PlayerRepository
from core.records import PlayerEvent, User, utcnow
from core.yoto.state import NO_CARD, merge_events
from services import players
from services.players import PlayerPorts

MAX_GAP_S = 600.0
PAGE = 1000


@dataclass
class _Track:
    card_id: str
    chapter_key: str | None
    track_key: str | None
    chapter_title: str | None = None
    track_title: str | None = None
    plays: int = 0
    seconds: float = 0.0


def events_in_window(players: PlayerRepository, player_id: str, since: datetime) -> Iterator[PlayerEvent]:
    cursor: str | None = None
    while True:
        page = players.events_since(player_id, since, limit=PAGE, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def summarise(events: Iterable[PlayerEvent], *, until: datetime) -> list[_Track]:
    """Oldest-first events → one entry per (card, chapter, track) that played."""
    tracks: dict[tuple[str, str | None, str | None], _Track] = {}
    state: dict[str, Any] = {}
    playing: tuple[str, str | None, str | None] | None = None
    last_at: datetime | None = None

    def credit(upto: datetime) -> None:
        if playing is not None and last_at is not None:
            tracks[playing].seconds += min(max(0.0, (upto - last_at).total_seconds()), MAX_GAP_S)

    for event in events:
        credit(event.at)
        if event.kind == "events":
            state = merge_events(state, event.payload)
        online = not (event.kind == "presence" and event.payload.get("online") is False)
        card = state.get("cardId")
        now_playing = None
        if online and state.get("playbackStatus") == "playing" and card not in (None, "", NO_CARD):
            now_playing = (str(card), state.get("chapterKey"), state.get("trackKey"))
            entry = tracks.get(now_playing)
            if entry is None:
                entry = tracks[now_playing] = _Track(*now_playing)
            entry.chapter_title = state.get("chapterTitle") or entry.chapter_title
            entry.track_title = state.get("trackTitle") or entry.track_title
            if now_playing != playing:
                entry.plays += 1
        elif not online:
            state = {**state, "playbackStatus": "stopped"}
        playing, last_at = now_playing, event.at
    credit(until)
    return [t for t in tracks.values() if t.plays or t.seconds]


def history(players: PlayerRepository, player_id: str, *, days: int, now: datetime | None = None) -> dict[str, Any]:
    """`GET /api/players/{id}/history`: plays and minutes per card and track over `days`."""
    until = now or utcnow()
    since = until - timedelta(days=days)
    tracks = summarise(events_in_window(players, player_id, since), until=until)
    cards: dict[str, dict[str, Any]] = {}
    for t in tracks:
        card = cards.setdefault(t.card_id, {"card_id": t.card_id, "plays": 0, "seconds": 0.0, "tracks": []})
        card["plays"] += t.plays
        card["seconds"] += t.seconds
        card["tracks"].append(
            {
                "chapter_key": t.chapter_key,
                "track_key": t.track_key,
                "chapter_title": t.chapter_title,
                "track_title": t.track_title,
                "plays": t.plays,
                "minutes": round(t.seconds / 60, 1),
            }
        )
    out = []
    for card in sorted(cards.values(), key=lambda c: -c["seconds"]):
        card["tracks"].sort(key=lambda x: (-x["minutes"], x["chapter_key"] or "", x["track_key"] or ""))
        out.append({**{k: v for k, v in card.items() if k != "seconds"}, "minutes": round(card["seconds"] / 60, 1)})
    return {
        "player_id": player_id,
        "days": days,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "total_minutes": round(sum(t.seconds for t in tracks) / 60, 1),
        "plays": sum(t.plays for t in tracks),
        "cards": out,
    }


def player_history(ports: PlayerPorts, who: User, player_id: str, *, days: int, kept_days: int) -> dict[str, Any]:
    """A player `who` may see (404 otherwise), its history over `days` (at most the `kept_days` kept)."""
    players.find_device(ports, player_id, who=who)
    return history(ports.players, player_id, days=min(days, kept_days))
