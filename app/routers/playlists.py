"""Live playlists and the card that follows each (rules in `services.playlists`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from app.deps import RootDep, UserDep
from app.schemas.cards import ITEMS_CEILING, CardOut
from app.schemas.common import ERRORS
from app.schemas.playlists import (
    PlaylistCardIn,
    PlaylistIn,
    PlaylistItemIn,
    PlaylistMoveIn,
    PlaylistOut,
    PlaylistPage,
    PlaylistPut,
    Version,
)
from services.playlists import KEEP

router = APIRouter(prefix="/api/playlists", tags=["playlists"])

PlaylistId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
Index = Annotated[int, Path(ge=0, le=ITEMS_CEILING)]
VersionQuery = Annotated[Version | None, Query(description="the version you last read; 409 if it moved on")]
# 400: a body that is not JSON. An edit answers 409 on a lost race (reload and retry); Yoto's trouble with the
# card never fails an edit: `card_sync` says `failed` and why.
_EDIT_ERRORS = ERRORS(400, 401, 403, 404, 409, 422)
_CARD_ERRORS = ERRORS(401, 403, 404, 409, 422, 429, 502, 503, 504)


@router.post("", response_model=PlaylistOut, status_code=201, responses=ERRORS(400, 401, 403, 409, 422))
def create_playlist(body: PlaylistIn, root: RootDep, user: UserDep) -> PlaylistOut:
    """A new playlist; 409 when `storage` names a mode this install cannot play (stream without a PUBLIC_URL
    players reach)."""
    return PlaylistOut.of(root.playlists.create(user, body.name, body.audio_ids, body.play_mode, body.storage))


@router.get("", response_model=PlaylistPage, responses=ERRORS(400, 401, 403))
def list_playlists(
    root: RootDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    all: Annotated[bool, Query(description="every member's playlists (admins only)")] = False,
) -> PlaylistPage:
    """Your playlists, newest first."""
    page = root.playlists.list(user, everyone=all, limit=limit, cursor=cursor)
    return PlaylistPage(items=[PlaylistOut.of(v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/{playlist_id}", response_model=PlaylistOut, responses=ERRORS(401, 404))
def get_playlist(playlist_id: PlaylistId, root: RootDep, user: UserDep) -> PlaylistOut:
    """The playlist. Reading it also writes its card when an earlier burst of
    edits left it `pending` and the debounce window has passed."""
    return PlaylistOut.of(root.playlists.get(user, playlist_id))


@router.put("/{playlist_id}", response_model=PlaylistOut, responses=_EDIT_ERRORS)
def update_playlist(playlist_id: PlaylistId, body: PlaylistPut, root: RootDep, user: UserDep) -> PlaylistOut:
    """Change any of `name`, `audio_ids`, `play_mode`, `storage`; the card follows (debounced, in place)."""
    view = root.playlists.update(
        user,
        playlist_id,
        name=body.name,
        audio_ids=body.audio_ids,
        play_mode=body.play_mode,
        storage=body.storage,
        opens=(body.opens.schedule() if body.opens else None) if "opens" in body.model_fields_set else KEEP,
        version=body.version,
    )
    return PlaylistOut.of(view)


@router.delete("/{playlist_id}", status_code=204, responses=ERRORS(401, 403, 404, 409, 429, 502, 503, 504))
def delete_playlist(playlist_id: PlaylistId, root: RootDep, user: UserDep) -> Response:
    """Deletes the playlist and its card (on Yoto first: if Yoto fails, nothing is deleted)."""
    root.playlists.delete(user, playlist_id)
    return Response(status_code=204)


@router.post("/{playlist_id}/items", response_model=PlaylistOut, responses=_EDIT_ERRORS)
def add_item(playlist_id: PlaylistId, body: PlaylistItemIn, root: RootDep, user: UserDep) -> PlaylistOut:
    """Append an item, or insert it before index `at`."""
    return PlaylistOut.of(root.playlists.add_item(user, playlist_id, body.audio_id, at=body.at, version=body.version))


@router.delete("/{playlist_id}/items", response_model=PlaylistOut, responses=_EDIT_ERRORS)
def clear_items(playlist_id: PlaylistId, root: RootDep, user: UserDep, version: VersionQuery = None) -> PlaylistOut:
    """Remove every item."""
    return PlaylistOut.of(root.playlists.clear(user, playlist_id, version=version))


@router.post("/{playlist_id}/items/move", response_model=PlaylistOut, responses=_EDIT_ERRORS)
def move_item(playlist_id: PlaylistId, body: PlaylistMoveIn, root: RootDep, user: UserDep) -> PlaylistOut:
    """Move the item at `from` to index `to` (0-based)."""
    view = root.playlists.move_item(user, playlist_id, body.from_, body.to, version=body.version)
    return PlaylistOut.of(view)


@router.delete("/{playlist_id}/items/{index:int}", response_model=PlaylistOut, responses=_EDIT_ERRORS)
def remove_item(
    playlist_id: PlaylistId, index: Index, root: RootDep, user: UserDep, version: VersionQuery = None
) -> PlaylistOut:
    """Remove the item at `index` (0-based)."""
    return PlaylistOut.of(root.playlists.remove_item(user, playlist_id, index, version=version))


@router.post("/{playlist_id}/card", response_model=CardOut, status_code=201, responses=_CARD_ERRORS)
def make_card(
    playlist_id: PlaylistId, root: RootDep, user: UserDep, body: Annotated[PlaylistCardIn | None, Body()] = None
) -> CardOut:
    """The playlist's card: one chapter per item, rewritten in place after every
    change (debounced), in the playlist's `storage` (a `yoto` playlist uploads
    what Yoto lacks first, in this request). A playlist has at most one card (409 naming it).
    With `opens` it is a day-by-day card: each chapter opens on its own day (an Advent card)."""
    opens = body.opens.schedule() if body is not None and body.opens is not None else None
    return CardOut.of(root.playlists.make_card(user, playlist_id, opens=opens))


@router.post("/{playlist_id}/reshuffle", response_model=CardOut, responses=_CARD_ERRORS)
def reshuffle(playlist_id: PlaylistId, root: RootDep, user: UserDep) -> CardOut:
    """A fresh order on the card, now (shuffle playlists with a card only)."""
    return CardOut.of(root.playlists.reshuffle(user, playlist_id))
