"""What a request must satisfy before any route runs: the origin secret (when
one is set) and the body cap.

The body cap answers 413 before a byte is parsed: at once when
`Content-Length` declares more than `MAX_BODY_KB`, else by counting the bytes
as they arrive (chunked bodies) and stopping the read the moment the count
passes the cap. Without it an unauthenticated 100 MB JSON login was parsed in
full. The streaming uploads are the exceptions, listed in `STREAMING_UPLOADS`:
they never hold the body in memory and stop at their own cap while reading.

A pure ASGI middleware (no BaseHTTPMiddleware), so the streaming routes keep
their receive channel and the player stream pays two dict lookups.
"""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.client_address import origin_verified
from app.settings_source import SettingsSource, app_settings

# The only routes whose bodies may pass MAX_BODY_KB: (method, path, own cap).
STREAMING_UPLOADS: tuple[tuple[str, str, str], ...] = (
    ("POST", "/api/audio", "MAX_UPLOAD_MB, counted while the multipart file streams to disk"),
    ("POST", "/api/storage/upload", "MAX_UPLOAD_MB, counted while the signed form streams to disk (local side)"),
    ("PUT", "/api/cards/{card_id}/cover", "the cover image cap of the cards service, counted while read"),
    ("POST", "/api/stories/import", "TWEE_MAX_BYTES of services.stories, counted while read"),
    ("POST", "/api/import-backup", "BACKUP_MAX_MB, counted while the archive streams to a temporary file"),
    ("POST", "/api/imports", "IMPORT_MAX_MB, counted while the multipart file streams to disk"),
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "/?")


_EXEMPT = tuple((method, _pattern(path)) for method, path, _ in STREAMING_UPLOADS)


def is_streaming_upload(method: str, path: str) -> bool:
    return any(method == m and p.fullmatch(path) for m, p in _EXEMPT)


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def too_large_reason(limit: int) -> str:
    return f"request body too large: at most {limit} bytes are accepted here (MAX_BODY_KB)"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the counted bytes pass the cap; FastAPI passes
    an HTTPException raised while reading the body through to its handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_reason(limit), headers={"Connection": "close"})


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
    # Connection: close, so the server drops the unread rest of the body instead of draining it.
    response = JSONResponse({"detail": reason}, status_code=status, headers={"Connection": "close"})
    await response(scope, receive, send)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: SettingsSource = app_settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_streaming_upload(scope["method"], _route_path(scope)):
            await self.app(scope, receive, send)
            return
        limit = self.settings().max_body_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _answer(scope, receive, send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _answer(scope, receive, send, 413, too_large_reason(limit))
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _answer(scope, receive, send, 413, too_large_reason(limit))


class OriginSecretMiddleware:
    """With ORIGIN_SECRET set, only requests carrying it (CloudFront adds it as
    `x-origin-verify`) reach the app: the default execute-api endpoint, which
    anyone can call directly, answers 403 and cannot bypass CloudFront."""

    def __init__(self, app: ASGIApp, settings: SettingsSource = app_settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        if not settings.origin_secret or origin_verified(Headers(scope=scope), settings):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _answer(scope, receive, send, 403, "requests must come through the service's public address")


def install_http_limits(app: Starlette, settings: SettingsSource = app_settings) -> None:
    """Add both to the app; the origin check runs first (outer)."""
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(OriginSecretMiddleware, settings=settings)
