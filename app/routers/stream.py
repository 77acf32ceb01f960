"""The player stream endpoint `/s/{token}.mp3`, outside `/api` so a CDN can
route it on its own.

A Yoto player sends no cookie, so the signed token is the only credential
(checked by `services.streams`). Where the bytes live on this machine they are
served here with Range support (players and browsers seek with it); where they
live in S3 the answer is a short-lived presigned redirect, so no audio byte
ever passes through Lambda.

This is the route a player waits on, so it does no per-request work it does
not need (bench/streaming.py holds it to a bare StaticFiles server):
- `StreamRoute` is documented by FastAPI from `stream`'s signature like any
  other route, but serves requests through Starlette's plain request/response
  wrapper: no dependency solving, no parameter validation layer (a path
  parameter that is any string needs none);
- `stream` is async and, where the records are read on this machine
  (`AudioRepository.reads_locally`: SQLite, memory), checks the token on the
  event loop: one narrow read (`stream_ref`, tens of microseconds) and one
  HMAC under a cached key, no worker-thread hop. Where a read is a network
  round trip (DynamoDB) it runs in a worker thread so the loop never waits on it;
- the file's `stat` taken by the check is handed to the response, so serving
  takes no second one, and the file is read in 256 KiB pieces
  (`PlayerFileResponse`) where Starlette reads 64 KiB: each piece is a
  worker-thread hop and an ASGI message, and a player's Range requests are
  large. Range handling is Starlette's own, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, RedirectResponse, Response

from app import deps
from app.keys import keys_for
from app.schemas import ERRORS
from services import streams

STREAM_PATH = "/s/{token}.mp3"
READ_BYTES = 256 * 1024


class PlayerFileResponse(FileResponse):
    """Starlette's file response (Range, If-Range, HEAD, 416) with bigger reads:
    a 256 KiB range is one read instead of four, for at most 256 KiB of buffer
    per response in flight."""

    chunk_size = READ_BYTES


class StreamRoute(APIRoute):
    """An `APIRoute` for the OpenAPI document (FastAPI reads `stream`'s signature
    and `responses=` as for any route), whose handler skips FastAPI's dependency
    solving and parameter validation: it calls the endpoint with the path's
    `token` and the request. (`get_route_handler` is FastAPI's hook for custom
    route classes; exceptions still reach the app's handlers, so domain errors
    answer through `app.problems` like everywhere else.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            response: Response = await endpoint(request.path_params["token"], request)
            return response

        return handle


router = APIRouter(tags=["stream"], route_class=StreamRoute)


@router.get(
    STREAM_PATH,
    response_class=Response,
    responses={
        200: {"description": "the MP3 (206 with Content-Range for a Range request)", "content": {"audio/mpeg": {}}},
        302: {"description": "to a presigned S3 URL"},
        **ERRORS(403, 404, 416),
    },
)
@router.head(STREAM_PATH, response_class=Response, include_in_schema=False)
async def stream(token: str, request: Request) -> Response:
    adapters = deps.get_adapters()  # looked up on the module, as the dependency does (tests swap it)
    audio = adapters.records.audio
    args = (audio, adapters.storage, keys_for(adapters).stream, token)
    ttl = adapters.settings.download_url_ttl_s
    if audio.reads_locally:
        source = streams.resolve(*args, url_ttl_s=ttl)
    else:
        source = await run_in_threadpool(streams.resolve, *args, url_ttl_s=ttl)
    if source.path is not None:
        return PlayerFileResponse(
            source.path,
            media_type="audio/mpeg",
            headers={"Cache-Control": "private, max-age=300"},
            stat_result=source.stat,
        )
    assert source.url is not None
    return RedirectResponse(source.url, status_code=302, headers={"Cache-Control": "no-store"})
