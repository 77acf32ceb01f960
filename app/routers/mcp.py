"""/mcp: the MCP server over Streamable HTTP (app/mcp/endpoint.py), bearer tokens only.
The document says only that a JSON-RPC message goes in and out: the MCP spec describes them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.mcp.endpoint import PATH, McpEndpoint
from app.schemas.common import ERRORS

router = APIRouter(tags=["mcp"])
_endpoint = McpEndpoint()


class _Handover(Response):
    """Hands the request, its body unread, to the MCP endpoint, which answers it itself."""

    def __init__(self) -> None:  # no body of its own
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _endpoint(scope, receive, send)


_MESSAGE = {"type": "object", "description": "a JSON-RPC 2.0 message of the Model Context Protocol"}


@router.post(
    PATH,
    summary="The MCP server: Streamable HTTP, stateless, JSON answers (docs/mcp.md)",
    responses={
        200: {"description": "the JSON-RPC answer", "content": {"application/json": {"schema": _MESSAGE}}},
        202: {"description": "a notification or response accepted"},
        **{
            code: {"description": f"the SDK's refusal: {why}", "content": {"application/json": {"schema": _MESSAGE}}}
            for code, why in (
                (400, "not a JSON-RPC message"),
                (406, "Accept lacks application/json"),
                (415, "not JSON"),
            )
        },
        **ERRORS(401, 413, 503),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _MESSAGE}}},
        "security": [{"token": []}],
    },
)
async def mcp(request: Request) -> Response:
    """Only a personal access token (`Authorization: Bearer`) gets in; a cookie never does (401). Stateless:
    no session id, no GET stream, so POST is the only method."""
    return _Handover()
