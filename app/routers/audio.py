"""The family audio library: upload, list, read, rename, delete, and the
player stream URL of an item.

The library is shared by the family: every logged-in user sees every item
(`?mine=true` narrows to one's own), but only the owner or an admin may
rename, delete or revoke an item's stream URLs.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from adapters import Adapters
from app.deps import AdaptersDep, UserDep
from app.ingest import ingest, scratch_dir, title_from
from app.keys import keys_for
from app.multipart_stream import receive_file
from app.schemas import AudioOut, AudioPage, AudioPatch, StreamUrlOut
from app.stream_tokens import make_token, stream_url
from core.errors import NotFound
from core.records import AudioItem, User

router = APIRouter(prefix="/api/audio", tags=["audio"])


def get_item(adapters: Adapters, item_id: str) -> AudioItem:
    try:
        return adapters.records.audio.get(item_id)
    except NotFound:
        raise HTTPException(404, f"no audio item {item_id}") from None


def _may_change(user: User, item: AudioItem) -> None:
    if item.owner != user.username and not user.is_admin:
        raise HTTPException(403, "only the owner or an admin may change this item")


@router.post(
    "",
    response_model=AudioOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}, "title": {"type": "string"}},
                    }
                }
            },
            "required": True,
        }
    },
)
async def upload(request: Request, adapters: AdaptersDep, user: UserDep) -> AudioOut:
    """Multipart `file` (+ optional `title`). 413 over MAX_UPLOAD_MB (checked
    while reading), 415 not audio, 422 unreadable; nothing is kept on failure."""
    with scratch_dir(adapters) as work:
        src = work / "upload"
        got = await receive_file(request, src, max_bytes=adapters.settings.max_upload_bytes)
        title = title_from(got.fields.get("title"), got.filename)
        item = await run_in_threadpool(ingest, adapters, src, owner=user.username, title=title)
    return AudioOut.of(item)


@router.get("", response_model=AudioPage)
def list_audio(
    adapters: AdaptersDep,
    user: UserDep,
    q: Annotated[str | None, Query(max_length=200, description="case-insensitive title search")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    mine: bool = False,
) -> AudioPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    try:
        page = adapters.records.audio.list(
            owner=user.username if mine else None, query=q or None, limit=limit, cursor=cursor
        )
    except ValueError:
        raise HTTPException(400, "invalid cursor") from None
    return AudioPage(items=[AudioOut.of(i) for i in page.items], next_cursor=page.next_cursor)


@router.get("/{item_id}", response_model=AudioOut)
def get_audio(item_id: str, adapters: AdaptersDep, _: UserDep) -> AudioOut:
    return AudioOut.of(get_item(adapters, item_id))


@router.patch("/{item_id}", response_model=AudioOut)
def rename_audio(item_id: str, body: AudioPatch, adapters: AdaptersDep, user: UserDep) -> AudioOut:
    title = body.title.strip()
    if not title:
        raise HTTPException(422, "title must not be empty")
    _may_change(user, get_item(adapters, item_id))
    return AudioOut.of(adapters.records.audio.update(item_id, title=title))


@router.delete("/{item_id}", status_code=204, responses={409: {"description": "still used by playlists or cards"}})
def delete_audio(item_id: str, adapters: AdaptersDep, user: UserDep, force: bool = False) -> Response:
    """Removes the record, then the object. While playlists or cards use the
    item the answer is 409 with their ids, unless `?force=true`."""
    item = get_item(adapters, item_id)
    _may_change(user, item)
    playlists = adapters.records.playlists.using_audio(item_id)
    cards = adapters.records.cards.using_audio(item_id)
    if (playlists or cards) and not force:
        return JSONResponse(
            status_code=409,
            content={
                "detail": f"the item is used by {len(playlists)} playlist(s) and {len(cards)} card(s);"
                " delete with ?force=true to remove it anyway",
                "playlists": playlists,
                "cards": cards,
            },
        )
    # Record first: a failure after it leaves an orphan object, never a record
    # pointing at nothing.
    adapters.records.audio.delete(item_id)
    adapters.storage.delete(item.storage_key)
    return Response(status_code=204)


@router.get("/{item_id}/stream-url", response_model=StreamUrlOut)
def get_stream_url(item_id: str, adapters: AdaptersDep, _: UserDep) -> StreamUrlOut:
    """The cookie-free URL a Yoto card holds for this item; stable until rotated."""
    item = get_item(adapters, item_id)
    token = make_token(keys_for(adapters).stream, item)
    return StreamUrlOut(url=stream_url(adapters.settings.public_url, token))


@router.post("/{item_id}/stream-url/rotate", response_model=StreamUrlOut)
def rotate_stream_url(item_id: str, adapters: AdaptersDep, user: UserDep) -> StreamUrlOut:
    """Revoke every stream URL handed out for the item and return the new one."""
    _may_change(user, get_item(adapters, item_id))
    item = adapters.records.audio.update(item_id, stream_key=secrets.token_urlsafe(16))
    token = make_token(keys_for(adapters).stream, item)
    return StreamUrlOut(url=stream_url(adapters.settings.public_url, token))
