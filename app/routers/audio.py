"""The family audio library: upload, list, read, rename, delete, the storage
quota, and the player stream URL of an item (rules in `services.library`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.deps import RootDep, UserDep
from app.http.multipart_stream import receive_file
from app.schemas.audio import AudioOut, AudioPage, AudioPatch, StorageOut, StreamUrlOut
from app.schemas.common import ERRORS
from services import library
from services.ingest import ingest, scratch_dir, title_from

router = APIRouter(prefix="/api/audio", tags=["audio"])

ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]

_MULTIPART = {
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
}


@router.post(
    "",
    response_model=AudioOut,
    status_code=201,
    openapi_extra=_MULTIPART,
    responses=ERRORS(400, 401, 403, 413, 415, 422, 503),
)
async def upload(request: Request, root: RootDep, user: UserDep) -> AudioOut:
    """Multipart `file` (+ optional `title`). 413 over MAX_UPLOAD_MB (checked
    while reading) or the storage quota, 415 not audio, 422 unreadable;
    nothing is kept on failure."""
    ports = root.ingest
    with scratch_dir(ports.scratch) as work:
        src = work / "upload"
        got = await receive_file(request, src, max_bytes=root.settings.max_upload_bytes)
        title = title_from(got.fields.get("title"), got.filename)
        item = await run_in_threadpool(ingest, ports, src, owner=user.owner_id, title=title)
    return AudioOut.of(item)


@router.get("", response_model=AudioPage, responses=ERRORS(400, 401))
def list_audio(
    root: RootDep,
    user: UserDep,
    q: Annotated[str | None, Query(max_length=200, description="case-insensitive title search")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    mine: bool = False,
) -> AudioPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = library.list_items(
        root.records.audio, owner=user.owner_id if mine else None, query=q, limit=limit, cursor=cursor
    )
    return AudioPage(items=[AudioOut.of(i) for i in page.items], next_cursor=page.next_cursor)


@router.get("/usage", response_model=StorageOut, responses=ERRORS(401))
def storage_usage(root: RootDep, user: UserDep) -> StorageOut:
    """Your share of the library: items, bytes used, your quota and what is left."""
    use = library.storage_use(root.records.audio, user.owner_id, root.settings.storage_quota_bytes)
    return StorageOut(
        items=use.items, used_bytes=use.used_bytes, quota_bytes=use.quota_bytes, left_bytes=use.left_bytes
    )


@router.get("/{item_id}", response_model=AudioOut, responses=ERRORS(401, 404))
def get_audio(item_id: ItemId, root: RootDep, _: UserDep) -> AudioOut:
    return AudioOut.of(library.get_item(root.records.audio, item_id))


@router.patch("/{item_id}", response_model=AudioOut, responses=ERRORS(401, 403, 404, 422))
def rename_audio(item_id: ItemId, body: AudioPatch, root: RootDep, user: UserDep) -> AudioOut:
    return AudioOut.of(library.rename(root.records.audio, user, item_id, body.title))


@router.delete("/{item_id}", status_code=204, responses=ERRORS(401, 403, 404, 409))
def delete_audio(item_id: ItemId, root: RootDep, user: UserDep, force: bool = False) -> Response:
    """Removes the record, then the object. While playlists or cards use the
    item the answer is 409 with their ids (`playlists`, `cards`), unless `?force=true`."""
    library.delete(root.library, user, item_id, force=force)
    return Response(status_code=204)


@router.get("/{item_id}/stream-url", response_model=StreamUrlOut, responses=ERRORS(401, 404))
def get_stream_url(item_id: ItemId, root: RootDep, _: UserDep) -> StreamUrlOut:
    """The cookie-free URL a Yoto card holds for this item; stable until rotated."""
    url = library.stream_url(root.records.audio, root.keys.stream, root.settings.public_url, item_id)
    return StreamUrlOut(url=url)


@router.post("/{item_id}/stream-url/rotate", response_model=StreamUrlOut, responses=ERRORS(401, 403, 404))
def rotate_stream_url(item_id: ItemId, root: RootDep, user: UserDep) -> StreamUrlOut:
    """Revoke every stream URL handed out for the item and return the new one."""
    url = library.rotate_stream_url(root.records.audio, root.keys.stream, root.settings.public_url, user, item_id)
    return StreamUrlOut(url=url)
