"""The last line of defence: every request gets an id, and an exception no
router handled becomes a JSON 500 that quotes it instead of a bare text page.

The id is API Gateway's own `requestContext.requestId` when the app runs on
Lambda (the same id API Gateway's access log and `apigw-requestid` header
carry), else a fresh random one. It is sent back as `X-Request-Id` on every
response, put in the 500 body, and logged with the traceback as one JSON line
(`app.http.logging`), so a family member's "it said error abc123" finds the cause.

A plain ASGI middleware rather than an exception handler: Starlette re-raises
after calling a handler for `Exception`, which under Mangum would log a second,
unstructured traceback.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.logging import request_id_var

log = logging.getLogger("yss.request")

REQUEST_ID_HEADER = b"x-request-id"


def request_id_for(scope: Scope) -> str:
    event = scope.get("aws.event")
    if isinstance(event, dict):
        rid = (event.get("requestContext") or {}).get("requestId")
        if isinstance(rid, str) and rid:
            return rid
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Sets the request id, logs one access line per request, turns unhandled
    exceptions into `{"detail": ..., "request_id": ...}` with status 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_for(scope)
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != REQUEST_ID_HEADER]
                message = {**message, "headers": [*headers, (REQUEST_ID_HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error in %s %s",
                scope.get("method"),
                scope.get("path"),
                extra={"request_id": rid, "method": scope.get("method"), "path": scope.get("path")},
            )
            if status["code"] is not None:
                raise  # the response has begun; nothing sane can be sent any more
            status["code"] = 500
            await _send_json(send, 500, {"detail": "internal server error", "request_id": rid}, rid)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status["code"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


async def _send_json(send: Send, status: int, body: dict[str, Any], rid: str) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (REQUEST_ID_HEADER, rid.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def install_error_handling(app: Any) -> None:
    """Wrap `app` (a FastAPI/Starlette app) once; call it last in `create_app()`
    so the middleware is the outermost one the app adds."""
    if getattr(app.state, "error_handling_installed", False):
        return
    app.add_middleware(RequestContextMiddleware)
    app.state.error_handling_installed = True
