"""/mcp: the MCP server over Streamable HTTP (app/mcp/endpoint.py), bearer tokens only.
Not in the OpenAPI document: its messages are JSON-RPC, described by the MCP spec."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.mcp.endpoint import PATH, McpEndpoint

router = APIRouter(tags=["mcp"])
_endpoint = McpEndpoint()


class _Handover(Response):
    """Hands the request, its body unread, to the MCP endpoint, which answers it itself."""

    def __init__(self) -> None:  # no body of its own
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _endpoint(scope, receive, send)


@router.api_route(PATH, methods=["GET", "POST", "DELETE"], include_in_schema=False)
async def mcp(request: Request) -> Response:
    return _Handover()
