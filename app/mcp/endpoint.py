"""The ASGI app behind /mcp (app/routers/mcp.py): the MCP server over Streamable
HTTP, stateless with JSON answers (so one Lambda invocation is one whole exchange).
Only `Authorization: Bearer` with a personal access token gets in; a cookie is
never looked at. Each request is authenticated afresh, so a revoked token is
refused from its next request."""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from app import deps
from app.http.csrf import bearer_token
from core.errors import Unauthenticated
from services import personal_tokens

PATH = "/mcp"
NO_TOKEN = f"{PATH} needs Authorization: Bearer <a personal access token> (POST /api/tokens); cookies are not accepted"


def _refused(reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


class McpEndpoint:
    """An ASGI app: the caller from the bearer token, then the SDK's transport for this one request."""

    def __init__(self) -> None:
        self._server = None

    def server(self):  # type: ignore[no-untyped-def]
        if self._server is None:
            from app.mcp.tools import build_server

            self._server = build_server()
        return self._server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer_token(Request(scope))
        if token is None:
            await _refused(NO_TOKEN)(scope, receive, send)
            return
        root = deps.current_root()
        try:
            caller = await run_in_threadpool(personal_tokens.authenticate, root.personal_tokens, token)
        except Unauthenticated as exc:
            await _refused(str(exc))(scope, receive, send)
            return
        try:
            from mcp.server.transport_security import TransportSecuritySettings

            from app.mcp.tools import calling

            server = self.server()
        except ImportError:
            unavailable = {"detail": "the MCP SDK (pip package mcp) is not installed here"}
            await JSONResponse(unavailable, status_code=503)(scope, receive, send)
            return
        # No await between these two lines: this request's manager is the one just made.
        # DNS rebinding protection is off: no browser credential gets in here, only a bearer token.
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = server.session_manager
        with calling(root, lambda: caller):
            async with manager.run():
                await manager.handle_request(scope, receive, send)
