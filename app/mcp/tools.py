"""The MCP server's tools (the SDK's `MCPServer`), each a thin async shell over
`services.mcp_tools` run in a worker thread as the caller of the request at hand
(`calling`): the HTTP endpoint and the stdio runner set it."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from core.errors import DomainError
from core.settings import VERSION
from services import mcp_tools
from services.personal_tokens import Caller
from wiring import Root

# The root and how to get the caller: the HTTP endpoint's is fixed for its one request; the
# stdio runner's checks its token again at every call (so revoking it stops the session).
_CURRENT: contextvars.ContextVar[tuple[Root, Callable[[], Caller]]] = contextvars.ContextVar("yss_mcp_caller")

INSTRUCTIONS = (
    "The family's audio library, Yoto cards, playlists and players. Find item ids with search_library, "
    "then make a card or playlist from them. Every tool that changes something takes dry_run: call it with "
    "dry_run true first, tell the person what it would do, then call it again with dry_run false."
)
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)

DryRun = Annotated[bool, Field(description="true: check everything and say what would happen, change nothing")]
ItemIds = Annotated[list[str], Field(min_length=1, max_length=100, description="audio item ids, in order")]


@contextmanager
def calling(root: Root, caller: Callable[[], Caller]) -> Iterator[None]:
    reset = _CURRENT.set((root, caller))
    try:
        yield
    finally:
        _CURRENT.reset(reset)


async def _run(fn: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        root, caller_of = _CURRENT.get()
    except LookupError:
        raise ToolError("no caller: this server runs behind /mcp or python -m app mcp") from None

    def work() -> dict[str, Any]:
        return fn(root.mcp_tools, caller_of(), *args, **kwargs)

    try:
        return await anyio.to_thread.run_sync(functools.partial(work))
    except DomainError as exc:
        raise ToolError(str(exc)) from None


def build_server() -> MCPServer:
    server = MCPServer(name="yoto-smart-stream", version=VERSION, instructions=INSTRUCTIONS)

    @server.tool(annotations=READ)
    async def search_library(
        query: Annotated[str, Field(max_length=200, description="words of the title; empty: newest items")] = "",
        limit: Annotated[int, Field(ge=1, le=50)] = 20,
    ) -> dict[str, Any]:
        """Search the family's audio library by title: item ids, titles and lengths."""
        return await _run(mcp_tools.search_library, query, limit)

    @server.tool(annotations=READ)
    async def list_cards_and_playlists(limit: Annotated[int, Field(ge=1, le=50)] = 20) -> dict[str, Any]:
        """Your cards and playlists, newest first (ids and titles)."""
        return await _run(mcp_tools.list_cards_and_playlists, limit)

    @server.tool(annotations=READ)
    async def describe_card(card_id: Annotated[str, Field(max_length=64)]) -> dict[str, Any]:
        """One card: its title, Yoto id, storage and tracks."""
        return await _run(mcp_tools.describe_card, card_id)

    @server.tool(annotations=READ)
    async def describe_playlist(playlist_id: Annotated[str, Field(max_length=64)]) -> dict[str, Any]:
        """One playlist: its name, items in order and its card."""
        return await _run(mcp_tools.describe_playlist, playlist_id)

    @server.tool(annotations=CHANGE)
    async def make_card(
        title: Annotated[str, Field(min_length=1, max_length=100)],
        audio_ids: ItemIds,
        dry_run: DryRun,
        track_titles: Annotated[list[str] | None, Field(description="one per item; default the items' titles")] = None,
        storage: Annotated[Literal["stream", "yoto"] | None, Field(description="default: the install's")] = None,
    ) -> dict[str, Any]:
        """Make a Yoto card on your account from library items, one chapter each (needs the cards scope)."""
        return await _run(
            mcp_tools.make_card, title, audio_ids, track_titles=track_titles, storage=storage, dry_run=dry_run
        )

    @server.tool(annotations=CHANGE)
    async def make_playlist(
        name: Annotated[str, Field(min_length=1, max_length=100)],
        audio_ids: ItemIds,
        dry_run: DryRun,
        play_mode: Literal["sequential", "shuffle"] = "sequential",
    ) -> dict[str, Any]:
        """Make a playlist from library items (needs the cards scope)."""
        return await _run(mcp_tools.make_playlist, name, audio_ids, play_mode=play_mode, dry_run=dry_run)

    @server.tool(annotations=CHANGE)
    async def add_to_playlist(
        playlist_id: Annotated[str, Field(max_length=64)], audio_ids: ItemIds, dry_run: DryRun
    ) -> dict[str, Any]:
        """Append items to a playlist; its card follows (needs the cards scope)."""
        return await _run(mcp_tools.add_to_playlist, playlist_id, audio_ids, dry_run=dry_run)

    @server.tool(annotations=CHANGE)
    async def speak_text(
        text: Annotated[str, Field(min_length=1, max_length=20000)],
        title: Annotated[str, Field(min_length=1, max_length=100)],
        dry_run: DryRun,
        voice: str | None = None,
    ) -> dict[str, Any]:
        """Turn text into a spoken library item (the daily speech quota applies); use its id in a card."""
        return await _run(mcp_tools.speak_text, text, title, voice=voice, dry_run=dry_run)

    @server.tool(annotations=READ)
    async def list_players() -> dict[str, Any]:
        """The family's players you may see, with what each is playing."""
        return await _run(mcp_tools.list_players)

    @server.tool(annotations=CHANGE)
    async def player_command(
        player_id: Annotated[str, Field(max_length=64)],
        action: Literal["play", "pause", "resume", "stop", "volume", "sleep_timer", "next", "previous"],
        dry_run: DryRun,
        card_id: Annotated[str | None, Field(description="play: the Yoto card id")] = None,
        volume: Annotated[int | None, Field(ge=0, le=100, description="0 to 100")] = None,
        minutes: Annotated[int | None, Field(ge=0, description="sleep_timer; 0 cancels")] = None,
    ) -> dict[str, Any]:
        """Send one command to a player (needs the players scope)."""
        fields = {k: v for k, v in {"card_id": card_id, "volume": volume, "minutes": minutes}.items() if v is not None}
        return await _run(mcp_tools.player_command, player_id, action, fields, dry_run=dry_run)

    return server
