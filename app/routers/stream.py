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
  large. Range handling is Starlette's own; only its refusals of a bad
  `Range` (plain text there) are answered with our JSON error body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import (
    FileResponse,
    JSONResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
)
from starlette.types import Receive, Scope, Send

from app import deps
from app.schemas.common import ERRORS
from services import streams

STREAM_PATH = "/s/{token}.mp3"
READ_BYTES = 256 * 1024
BAD_RANGE = "Range header: not a byte range of the form bytes=START-END"


class PlayerFileResponse(FileResponse):
    """Starlette's file response (Range, If-Range, HEAD, 416) with bigger reads:
    a 256 KiB range is one read instead of four, for at most 256 KiB of buffer
    per response in flight. A `Range` it would refuse in plain text (400, 416)
    is refused here first with the JSON body every other error has."""

    chunk_size = READ_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._range_refusal(Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _range_refusal(self, headers: Headers) -> Response | None:
        """Starlette's own checks (same parser, same conditions), answered in JSON."""
        http_range = headers.get("range")
        if http_range is None or self.stat_result is None:
            return None
        if_range = headers.get("if-range")
        if if_range is not None and not self._should_use_range(if_range):
            return None
        size = self.stat_result.st_size
        try:
            self._parse_range_header(http_range, size)
        except MalformedRangeHeader as exc:
            reason = exc.content if exc.content.startswith("Range header") else BAD_RANGE
            return JSONResponse({"detail": reason}, status_code=400)
        except RangeNotSatisfiable:
            detail = f"Range header: the range starts past the end of the audio ({size} bytes)"
            return JSONResponse({"detail": detail}, status_code=416, headers={"Content-Range": f"bytes */{size}"})
        return None


class StreamRoute(APIRoute):
    """An `APIRoute` for the OpenAPI document (FastAPI reads `stream`'s signature
    and `responses=` as for any route), whose handler skips FastAPI's dependency
    solving and parameter validation: it calls the endpoint with the path's
    `token` and the request. (`get_route_handler` is FastAPI's hook for custom
    route classes; exceptions still reach the app's handlers, so domain errors
    answer through `app.http.problems` like everywhere else.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            response: Response = await endpoint(request.path_params["token"], request)
            return response

        return handle


router = APIRouter(tags=["stream"], route_class=StreamRoute)
_MP3 = {"content": {"audio/mpeg": {"schema": {"type": "string", "format": "binary"}}}}


@router.get(
    STREAM_PATH,
    response_class=Response,
    responses={
        200: {"description": "the MP3", **_MP3},
        206: {"description": "the ranges asked for", **_MP3},
        302: {"description": "to a presigned S3 URL"},
        **ERRORS(400, 403, 404, 416),
    },
)
@router.head(STREAM_PATH, response_class=Response, include_in_schema=False)
async def stream(token: str, request: Request) -> Response:
    root = deps.current_root()
    audio = root.records.audio
    args = (audio, root.adapters.storage, root.keys.stream, token)
    ttl = root.settings.download_url_ttl_s
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
