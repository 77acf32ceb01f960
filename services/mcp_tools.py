"""What the MCP server's tools do, over the same services the HTTP API calls:
each takes the caller (its user and scopes) and answers a plain dict. A tool
that changes something takes `dry_run` and then runs every check the real call
makes, changes nothing and says what it would do (docs/mcp.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import Invalid
from core.ports import AudioRepository
from core.records import AudioItem, Card
from services import access, card_uploads, cards, library, player_commands, players, tts
from services.card_content import CardPorts
from services.card_uploads import UploadPorts
from services.cards import CardSpec, TrackSpec
from services.personal_tokens import Caller
from services.player_commands import Commands
from services.players import PlayerPorts, PlayerView
from services.playlists import Playlists, PlaylistView
from services.tts import TtsPorts

MAX_RESULTS = 50


@dataclass(frozen=True)
class ToolPorts:
    audio: AudioRepository
    cards: CardPorts
    card_uploads: UploadPorts
    playlists: Playlists
    tts: TtsPorts
    players: PlayerPorts
    commands: Commands


def _item(item: AudioItem) -> dict[str, Any]:
    return {"id": item.id, "title": item.title, "duration_s": round(item.duration_s, 1), "source": item.source}


def _card(card: Card) -> dict[str, Any]:
    titles = card.track_titles or ("",) * len(card.audio_ids)
    return {
        "id": card.id,
        "title": card.title,
        "yoto_card_id": card.yoto_card_id,
        "storage": card.storage,
        "playlist_id": card.playlist_id,
        "tracks": [{"audio_id": a, "title": t or None} for a, t in zip(card.audio_ids, titles, strict=False)],
    }


def _playlist(view: PlaylistView) -> dict[str, Any]:
    p = view.playlist
    return {
        "id": p.id,
        "name": p.name,
        "version": p.version,
        "play_mode": p.play_mode,
        "storage": p.storage,
        "audio_ids": list(p.audio_ids),
        "card_id": p.card_id,
        "card_sync": view.sync.state,
    }


def _player(v: PlayerView) -> dict[str, Any]:
    keys = ("id", "name", "online", "playback_status", "card_id", "chapter_title", "track_title", "volume")
    return {k: getattr(v, k) for k in keys} | {"battery_percent": v.battery_percent}


def _items(ports: ToolPorts, ids: Sequence[str]) -> list[AudioItem]:
    if not ids:
        raise Invalid("name at least one audio item (search_library finds their ids)")
    return [library.get_item(ports.audio, i) for i in ids]


def _titles(items: Sequence[AudioItem]) -> str:
    return ", ".join(f"{n}. {i.title!r}" for n, i in enumerate(items, start=1))


def search_library(ports: ToolPorts, caller: Caller, query: str, limit: int = 20) -> dict[str, Any]:
    page = library.list_items(ports.audio, owner=None, query=query.strip() or None, limit=_limit(limit), cursor=None)
    return {"items": [_item(i) for i in page.items], "more": page.next_cursor is not None}


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_RESULTS))


def list_cards_and_playlists(ports: ToolPorts, caller: Caller, limit: int = 20) -> dict[str, Any]:
    user = caller.user
    got = cards.list_cards(ports.cards, user, everyone=False, limit=_limit(limit), cursor=None)
    lists = ports.playlists.list(user, everyone=False, limit=_limit(limit), cursor=None)
    return {
        "cards": [{"id": c.id, "title": c.title} for c in got.items],
        "playlists": [{"id": v.playlist.id, "name": v.playlist.name} for v in lists.items],
    }


def describe_card(ports: ToolPorts, caller: Caller, card_id: str) -> dict[str, Any]:
    return _card(cards.get(ports.cards, caller.user, card_id))


def describe_playlist(ports: ToolPorts, caller: Caller, playlist_id: str) -> dict[str, Any]:
    view = ports.playlists.get(caller.user, playlist_id)
    out = _playlist(view)
    out["items"] = [_item(i) for i in _items(ports, view.playlist.audio_ids)] if view.playlist.audio_ids else []
    return out


def make_card(
    ports: ToolPorts,
    caller: Caller,
    title: str,
    audio_ids: Sequence[str],
    *,
    track_titles: Sequence[str] | None = None,
    storage: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """A card on the caller's Yoto account, one chapter per item in order."""
    caller.require("cards", "making a card")
    if track_titles is not None and len(track_titles) != len(audio_ids):
        raise Invalid(f"track_titles has {len(track_titles)} titles for {len(audio_ids)} items")
    items = _items(ports, audio_ids)
    names = list(track_titles) if track_titles is not None else [None] * len(items)
    spec = CardSpec(
        title=title, tracks=[TrackSpec(i.id, t) for i, t in zip(items, names, strict=True)], storage=storage
    )
    if dry_run:
        missing = cards.missing_uploads(ports.cards, caller.user, spec)  # every check a write makes first
        linked = ports.cards.yoto.tokens.is_linked(caller.user.owner_id)
        tracks = f"{len(items)} track" + ("s" if len(items) != 1 else "")
        would = f"make card {title.strip()!r} with {tracks}: {_titles(items)}"
        if missing:
            would += f"; {len(missing)} item(s) to upload to Yoto's storage first"
        if not linked:
            would += "; but your Yoto account is not linked, so it would fail: link it in the app first"
        return {"dry_run": True, "would": would, "linked": linked}
    written = card_uploads.write(ports.card_uploads, caller.user, spec)
    if written.card is not None:
        return {"dry_run": False, "done": f"made card {written.card.title!r}", "card": _card(written.card)}
    assert written.run is not None
    return {
        "dry_run": False,
        "done": f"card {written.card_id} is waiting for its uploads to Yoto (run {written.run.id})",
        "card_id": written.card_id,
        "run_id": written.run.id,
    }


def make_playlist(
    ports: ToolPorts,
    caller: Caller,
    name: str,
    audio_ids: Sequence[str],
    *,
    play_mode: str = "sequential",
    dry_run: bool = False,
) -> dict[str, Any]:
    caller.require("cards", "making a playlist")
    items = _items(ports, audio_ids)
    if dry_run:
        if not name.strip():
            raise Invalid("a playlist needs a name")
        if play_mode not in ("sequential", "shuffle"):
            raise Invalid("play_mode is sequential or shuffle")
        return {"dry_run": True, "would": f"make playlist {name.strip()!r} ({play_mode}) of {_titles(items)}"}
    view = ports.playlists.create(caller.user, name, [i.id for i in items], play_mode)
    return {"dry_run": False, "done": f"made playlist {view.playlist.name!r}", "playlist": _playlist(view)}


def add_to_playlist(
    ports: ToolPorts, caller: Caller, playlist_id: str, audio_ids: Sequence[str], *, dry_run: bool = False
) -> dict[str, Any]:
    """Append the items in order; the playlist's card follows."""
    caller.require("cards", "changing a playlist")
    items = _items(ports, audio_ids)
    view = ports.playlists.get(caller.user, playlist_id)
    if dry_run:
        access.may_change(caller.user, view.playlist.owner, "playlist")
        return {"dry_run": True, "would": f"add {_titles(items)} to playlist {view.playlist.name!r}"}
    for item in items:
        view = ports.playlists.add_item(caller.user, playlist_id, item.id)
    return {"dry_run": False, "done": f"added {len(items)} item(s)", "playlist": _playlist(view)}


def speak_text(
    ports: ToolPorts, caller: Caller, text: str, title: str, *, voice: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """A library item spoken from `text` (the TTS quota applies); use its id in a card or playlist."""
    caller.require("cards", "adding to the library")
    if dry_run:
        if not text.strip() or not title.strip():
            raise Invalid("text and title must not be blank")
        left = tts.remaining_today(ports.tts.counters, ports.tts.limits, caller.user.owner_id)
        size = len(text.strip())
        if size > min(left, ports.tts.limits.max_chars):
            raise Invalid(f"{size} characters is more than you may have spoken now ({left} left today)")
        return {"dry_run": True, "would": f"speak {size} characters into a new item {title.strip()!r}"}
    item = tts.speak(ports.tts, caller.user, text=text, title=title, voice=voice)
    return {"dry_run": False, "done": f"made item {item.title!r}", "item": _item(item)}


def list_players(ports: ToolPorts, caller: Caller) -> dict[str, Any]:
    return {"players": [_player(v) for v in players.list_players(ports.players, who=caller.user)]}


def player_command(
    ports: ToolPorts,
    caller: Caller,
    player_id: str,
    action: str,
    fields: Mapping[str, Any],
    *,
    dry_run: bool = False,
) -> dict[str, Any]:
    """One command to a player the caller may drive (the `players` scope)."""
    caller.require("players", "driving a player")
    if dry_run:
        device, view = players.device_and_view(ports.players, player_id, who=caller.user)
        if action not in ("next", "previous") and action != "sleep_timer":
            player_commands.build(action, fields, player=view, chapters=lambda _card: [])  # its checks only
        state = "online" if view.online else "offline"
        return {"dry_run": True, "would": f"send {action} {dict(fields)} to {device.name!r} ({state})"}
    sent = player_commands.send_action(ports.commands, caller.user, player_id, action, fields)
    return {"dry_run": False, "done": f"{action} acknowledged via {sent.via} in {sent.elapsed_ms} ms"}
