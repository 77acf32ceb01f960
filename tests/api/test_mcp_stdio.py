"""`python -m app mcp` as a desktop assistant starts it: a subprocess spoken to
over stdio by the SDK's client, acting as the token in YSS_TOKEN on a local data
dir; a token revoked mid-session is refused from the next tool call."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from adapters import Adapters
from core.settings import Settings
from services import personal_tokens
from tests.api.conftest import ADMIN
from tests.audio_fixtures import write_tone
from tests.conftest import TEST_SECRET
from tests.live_server import ROOT, settings_env
from wiring import root_for


def test_stdio_server_acts_as_its_token_until_revoked(tmp_path: Path) -> None:
    settings = Settings(use_aws=False, data_dir=tmp_path / "data", session_secret=TEST_SECRET, tts_engine="espeak")
    adapters = Adapters(settings)
    adapters.identity.create_user(ADMIN[0], ADMIN[1], is_admin=True)
    root = root_for(adapters)
    from services.ingest import ingest

    tone = write_tone(tmp_path / "owl.mp3", "mp3", seconds=1.0)
    mum = root.members.resolved(adapters.identity.get_user(ADMIN[0]))
    item = ingest(root.ingest, tone, owner=mum.owner_id, title="Owl song")
    token, secret = personal_tokens.create(root.personal_tokens, mum, "desktop", ["read"], 7)
    env = {**os.environ, **settings_env(settings), "MQTT_ENABLED": "false", "YSS_TOKEN": secret}
    env.pop("AWS_ENDPOINT_URL", None)
    params = StdioServerParameters(command=sys.executable, args=["-m", "app", "mcp"], env=env, cwd=str(ROOT))

    async def session() -> list[Any]:
        async with Client(params, read_timeout_seconds=60) as client:
            found = await client.call_tool("search_library", {"query": "owl"})
            refused = await client.call_tool("make_playlist", {"name": "Owls", "audio_ids": [item.id], "dry_run": True})
            personal_tokens.revoke(root.personal_tokens, mum, token.id)
            after = await client.call_tool("search_library", {"query": "owl"})
            return [found, refused, after]

    found, refused, after = anyio.run(session)
    assert not found.is_error and [i["id"] for i in found.structured_content["items"]] == [item.id]
    assert refused.is_error and "'cards' scope" in refused.content[0].text
    assert after.is_error and "revoked" in after.content[0].text
    assert root.playlists.list(mum, everyone=False, limit=5, cursor=None).items == []


def test_stdio_server_refuses_to_start_without_a_good_token(tmp_path: Path) -> None:
    import subprocess

    settings = Settings(use_aws=False, data_dir=tmp_path / "data", session_secret=TEST_SECRET, tts_engine="espeak")
    env = {**os.environ, **settings_env(settings), "MQTT_ENABLED": "false"}
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("YSS_TOKEN", None)
    for token, code, said in ((None, 2, "set YSS_TOKEN"), ("yss_nope_nope", 1, "invalid, expired or revoked token")):
        run_env = env if token is None else {**env, "YSS_TOKEN": token}
        cmd = [sys.executable, "-m", "app", "mcp"]
        out = subprocess.run(
            cmd, env=run_env, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        assert (out.returncode, out.stdout) == (code, ""), out.stderr
        assert said in out.stderr
