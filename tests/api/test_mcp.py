"""The MCP server at /mcp driven by the official SDK's client over real HTTP
(uvicorn on 127.0.0.1, the fake Yoto cloud, both adapter sets): an assistant
makes a card from three items, dry run first; a read token changes nothing;
a revoked token is refused from its next request; a cookie does not get in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from core.settings import Settings
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.api.conftest import ADMIN
from tests.api.linked_family import Family, linked_family

yoto_cloud = yoto_sim.yoto_cloud
TITLES = ("Owl one", "Owl two", "Owl three")


@pytest.fixture
def family(backend_settings: Settings, yoto_cloud: RunningCloud, tmp_path: Path) -> Iterator[Family]:
    with linked_family(backend_settings, yoto_cloud, tmp_path) as built:
        yield built


def new_token(client: httpx.Client, *scopes: str) -> tuple[str, str]:
    r = client.post("/api/tokens", json={"name": f"assistant {'+'.join(scopes)}", "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["token"]


def upload(family: Family, client: httpx.Client, title: str) -> str:
    r = client.post("/api/audio", files={"file": ("owl.mp3", family.tone, "audio/mpeg")}, data={"title": title})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@asynccontextmanager
async def connected(family: Family, token: str) -> AsyncIterator[tuple[Client, httpx2.AsyncClient]]:
    """The SDK's client on /mcp with the token, and the HTTP client it sends through."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{family.base}/mcp", http_client=http)) as client,
    ):
        yield client, http


def mcp_session(family: Family, token: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """One assistant session: connect with the token, make the calls in order, answer their results."""

    async def run() -> list[Any]:
        async with connected(family, token) as (client, _):
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"search_library", "make_card", "list_players", "player_command"} <= tools
            return [await client.call_tool(name, args) for name, args in calls]

    return anyio.run(run)


def text_of(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_an_assistant_makes_a_card_from_three_items_dry_run_first(family: Family) -> None:
    mum = family.login(ADMIN)
    family.link(mum, "mum-yoto")
    ids = [upload(family, mum, t) for t in TITLES]
    _, token = new_token(mum, "cards")
    args = {"title": "Bedtime owls", "audio_ids": ids}

    calls = [("search_library", {"query": "owl"}), ("make_card", {**args, "dry_run": True})]
    found, dry = mcp_session(family, token, calls)
    assert not found.is_error and {i["id"] for i in found.structured_content["items"]} == set(ids)
    assert not dry.is_error, text_of(dry)
    assert dry.structured_content["dry_run"] is True and dry.structured_content["linked"] is True
    assert "'Bedtime owls' with 3 tracks" in dry.structured_content["would"]
    assert all(repr(t) in dry.structured_content["would"] for t in TITLES)
    assert family.cloud.cards() == {} and mum.get("/api/cards").json()["items"] == []  # nothing made

    (made,) = mcp_session(family, token, [("make_card", {**args, "dry_run": False})])
    assert not made.is_error, text_of(made)
    card = made.structured_content["card"]
    assert [t["audio_id"] for t in card["tracks"]] == ids
    (on_yoto,) = family.cloud.cards().values()
    assert on_yoto["title"] == "Bedtime owls" and len(on_yoto["content"]["chapters"]) == 3
    assert [c["id"] for c in mum.get("/api/cards").json()["items"]] == [card["id"]]
    (described,) = mcp_session(family, token, [("describe_card", {"card_id": card["id"]})])
    assert described.structured_content["yoto_card_id"] == card["yoto_card_id"]


def test_a_read_token_cannot_change_anything(family: Family) -> None:
    mum = family.login(ADMIN)
    family.link(mum, "mum-yoto")
    ids = [upload(family, mum, t) for t in TITLES]
    _, token = new_token(mum, "read")
    calls = [
        ("make_card", {"title": "Owls", "audio_ids": ids, "dry_run": True}),
        ("make_card", {"title": "Owls", "audio_ids": ids, "dry_run": False}),
        ("make_playlist", {"name": "Owls", "audio_ids": ids, "dry_run": False}),
        ("speak_text", {"text": "Good night", "title": "Night", "dry_run": False}),
        ("player_command", {"player_id": "p1", "action": "pause", "dry_run": False}),
        ("search_library", {"query": "owl"}),
    ]
    *refused, found = mcp_session(family, token, calls)
    for result in refused:
        assert result.is_error and "scope" in text_of(result), text_of(result)
    assert "'players' scope" in text_of(refused[-1]) and "'cards' scope" in text_of(refused[0])
    assert len(found.structured_content["items"]) == 3  # reading is every token's
    assert family.cloud.cards() == {}
    assert mum.get("/api/cards").json()["items"] == [] and mum.get("/api/playlists").json()["items"] == []
    assert len(mum.get("/api/audio").json()["items"]) == 3

    # Over HTTP the same token reads and changes nothing, and cannot make itself a stronger one.
    bearer = httpx.Client(base_url=family.base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    family.clients.append(bearer)
    assert bearer.get("/api/audio").status_code == 200
    r = bearer.post("/api/playlists", json={"name": "Owls", "audio_ids": ids})
    assert r.status_code == 403 and "'cards' scope" in r.json()["detail"]
    assert bearer.post("/api/tokens", json={"name": "more", "scopes": ["cards"]}).status_code == 403
    assert bearer.patch(f"/api/audio/{ids[0]}", json={"title": "renamed"}).status_code == 403
    assert mum.get(f"/api/audio/{ids[0]}").json()["title"] == TITLES[0]


def test_a_revoked_token_is_refused_at_once(family: Family) -> None:
    mum = family.login(ADMIN)
    upload(family, mum, TITLES[0])
    token_id, token = new_token(mum, "cards")

    async def run() -> tuple[Any, int]:
        async with connected(family, token) as (client, http):
            first = await client.call_tool("search_library", {"query": "owl"})
            assert mum.delete(f"/api/tokens/{token_id}").status_code == 204
            # The same session's next request carries the revoked token.
            r = await http.post(
                f"{family.base}/mcp",
                json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
                headers={"Accept": "application/json, text/event-stream"},
            )
            return first, r.status_code

    first, status = anyio.run(run)
    assert not first.is_error and len(first.structured_content["items"]) == 1
    assert status == 401
    with pytest.raises(Exception):  # noqa: B017 - the SDK's error for a 401 answer is its own
        mcp_session(family, token, [("search_library", {"query": ""})])
    assert [t["id"] for t in mum.get("/api/tokens").json()] == []


def test_mcp_accepts_no_cookie(family: Family) -> None:
    mum = family.login(ADMIN)  # a logged-in browser: its cookie and Origin go with every request
    r = mum.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 401 and "cookies are not accepted" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
