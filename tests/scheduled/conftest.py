"""Fixtures for scheduled work: a real feed server on 127.0.0.1, the API on the
local side with a linked account on the Yoto simulator, and audio to serve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters import Adapters
from core.yoto import TokenGrant
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.api.conftest import ADMIN, Api, make_api
from tests.audio_fixtures import write_tone
from tests.feeds import FeedServer, serve_feeds

yoto_cloud, yoto_cloud_env = yoto_sim.yoto_cloud, yoto_sim.yoto_cloud_env


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with serve_feeds() as server:
        yield server


@pytest.fixture(scope="session")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Short audio episodes in two formats (bytes), made once."""
    d = tmp_path_factory.mktemp("episodes")
    return {
        "mp3": write_tone(d / "a.mp3", "mp3", seconds=2.0).read_bytes(),
        "m4a": write_tone(d / "b.m4a", "m4a", seconds=3.0, freq=660).read_bytes(),
        "wav": write_tone(d / "c.wav", "wav", seconds=1.5, freq=330).read_bytes(),
    }


def link_account(adapters: Adapters, cloud: RunningCloud, account: str = ADMIN[0]) -> None:
    from app.scheduled import yoto_access

    issued = cloud.issue_tokens(account)
    grant = TokenGrant(
        access_token=issued["access_token"], expires_in=int(issued["expires_in"]), refresh_token=issued["refresh_token"]
    )
    yoto_access(adapters)[1].store_new_link(account, grant)


@pytest.fixture
def sched_api(
    local_settings: Any, yoto_cloud_env: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Api]:
    """The API (local side) with private feeds allowed, no background scheduler,
    and the admin's Yoto account linked on the simulator."""
    env = yoto_cloud_env.env()
    settings = local_settings.model_copy(
        update={
            "allow_private_feeds": True,
            "allow_http_public_url": True,
            "scheduler_enabled": False,
            "yoto_api_url": env["YOTO_API_URL"],
            "yoto_auth_url": env["YOTO_AUTH_URL"],
            "yoto_client_id": env["YOTO_CLIENT_ID"],
        }
    )
    api = make_api(settings, monkeypatch, tmp_path)
    link_account(api.adapters, yoto_cloud_env)
    yield api
    for c in api.clients:
        c.close()
