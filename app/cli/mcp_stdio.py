"""`python -m app mcp`: the MCP server over standard input and output, for a
desktop assistant that starts it as a subprocess. It acts as the personal access
token in YSS_TOKEN (checked again at every tool call) on this install's data."""

from __future__ import annotations

import argparse
import os

from app.cli.exits import EXIT_CONFIG, EXIT_REFUSED, fail
from core.errors import Unauthenticated

TOKEN_ENV = "YSS_TOKEN"


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser(
        "mcp", help=f"serve the MCP tools over stdio as the personal access token in ${TOKEN_ENV} (docs/mcp.md)"
    )
    serve.set_defaults(run=serve_stdio)


def serve_stdio(args: argparse.Namespace) -> int:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        return fail(f"set {TOKEN_ENV} to a personal access token (make one on the Account page)", EXIT_CONFIG)
    import anyio

    from app.deps import current_root
    from app.mcp.tools import build_server, calling
    from services import personal_tokens

    root = current_root()
    ports = root.personal_tokens
    try:
        personal_tokens.authenticate(ports, token)
    except Unauthenticated as exc:
        return fail(f"{TOKEN_ENV}: {exc}", EXIT_REFUSED)
    server = build_server()
    with calling(root, lambda: personal_tokens.authenticate(ports, token)):
        anyio.run(server.run_stdio_async)
    return 0
