"""The player stream endpoint `/s/{token}.mp3`, outside `/api` so a CDN can
route it on its own.

A Yoto player sends no cookie, so the signed token is the only credential.
Where the bytes live on this machine they are served here with Range support
(players and browsers seek with it); where they live in S3 the answer is a
short-lived presigned redirect, so no audio byte ever passes through Lambda.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response

from app.deps import AdaptersDep
from app.keys import keys_for
from app.stream_tokens import split_token, token_matches
from core.errors import NotFound

router = APIRouter(tags=["stream"])

FORBIDDEN = "invalid or revoked stream link"


@router.get("/s/{token}.mp3", response_class=Response, responses={302: {"description": "to a presigned S3 URL"}})
@router.head("/s/{token}.mp3", response_class=Response, include_in_schema=False)
def stream(token: str, adapters: AdaptersDep) -> Response:
    parts = split_token(token)
    if parts is None:
        raise HTTPException(403, FORBIDDEN)
    item_id, sig = parts
    try:
        item = adapters.records.audio.get(item_id)
    except NotFound:
        # Same answer as a bad signature: a token must not reveal which ids exist.
        raise HTTPException(403, FORBIDDEN) from None
    if not token_matches(keys_for(adapters).stream, item, sig):
        raise HTTPException(403, FORBIDDEN)
    path = adapters.storage.local_path(item.storage_key)
    if path is not None:
        if not path.is_file():
            raise HTTPException(404, "the audio file is missing")
        return FileResponse(path, media_type="audio/mpeg", headers={"Cache-Control": "private, max-age=300"})
    ttl = min(adapters.settings.download_url_ttl_s, 900)
    url = adapters.storage.download_url(item.storage_key, expires_s=ttl)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
