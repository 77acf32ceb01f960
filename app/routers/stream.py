"""The player stream endpoint `/s/{token}.mp3`, outside `/api` so a CDN can
route it on its own.

A Yoto player sends no cookie, so the signed token is the only credential
(checked by `services.streams`). Where the bytes live on this machine they are
served here with Range support (players and browsers seek with it); where they
live in S3 the answer is a short-lived presigned redirect, so no audio byte
ever passes through Lambda.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response

from app.deps import AdaptersDep, KeysDep
from app.schemas import ERRORS
from services import streams

router = APIRouter(tags=["stream"])


@router.get(
    "/s/{token}.mp3",
    response_class=Response,
    responses={302: {"description": "to a presigned S3 URL"}, **ERRORS(403, 404, 416)},
)
@router.head("/s/{token}.mp3", response_class=Response, include_in_schema=False)
def stream(token: str, adapters: AdaptersDep, keys: KeysDep) -> Response:
    source = streams.resolve(
        adapters.records.audio, adapters.storage, keys.stream, token, url_ttl_s=adapters.settings.download_url_ttl_s
    )
    if source.path is not None:
        return FileResponse(source.path, media_type="audio/mpeg", headers={"Cache-Control": "private, max-age=300"})
    assert source.url is not None
    return RedirectResponse(source.url, status_code=302, headers={"Cache-Control": "no-store"})
