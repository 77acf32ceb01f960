"""Fixtures for scheduled work: a real feed server on 127.0.0.1, the API on the
local side with a linked account on the Yoto simulator, and audio to serve;
jobs answer 202 and run on the process's workers, so `finished` waits for a run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from adapters import Adapters
from core.yoto.cloud import TokenGrant
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.api.conftest import ADMIN, Api, make_api
from tests.audio_fixtures import write_tone
from tests.feeds import FeedServer, serve_feeds
from tests.waiting import eventually

yoto_cloud, yoto_cloud_env = yoto_sim.yoto_cloud, yoto_sim.yoto_cloud_env
DONE = ("ok", "partial", "failed")


def finished(client: Any, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The run once it has ended (GET /api/runs/{id}, polled)."""

    def ended() -> dict[str, Any] | None:
        run = client.get(f"/api/runs/{run_id}").json()
        return run if run.get("status") in DONE else None

    return dict(eventually(ended, timeout, every=0.05))


def stop_jobs(api: Api) -> None:
    """What a test left on the workers ends before its data goes (as at a server's stop)."""
    from wiring import root_for

    root_for(api.adapters).stop_workers(grace_s=10)


class HeldFeeds:
    """A feed host on 127.0.0.1 that holds every request open, answering nothing,
    until `release()` (then 404): what a slow drip does to whoever fetches it."""

    def __init__(self, hold_s: float = 120.0) -> None:
        self.gate = threading.Event()
        self.waiting = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner.lock:
                    owner.waiting += 1
                try:
                    owner.gate.wait(hold_s)
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with owner.lock:
                        owner.waiting -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def release(self) -> None:
        self.gate.set()


@contextmanager
def held_feeds(hold_s: float = 120.0) -> Iterator[HeldFeeds]:
    feeds = HeldFeeds(hold_s)
    thread = threading.Thread(target=feeds.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feeds
    finally:
        feeds.release()
        feeds.server.shutdown()
        feeds.server.server_close()


@pytest.fixture
def held() -> Iterator[HeldFeeds]:
    with held_feeds() as feeds:
        yield feeds


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
    from wiring import root_for

    issued = cloud.issue_tokens(account)
    grant = TokenGrant(
        access_token=issued["access_token"], expires_in=int(issued["expires_in"]), refresh_token=issued["refresh_token"]
    )
    root_for(adapters).tokens.store_new_link(account, grant)


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
    stop_jobs(api)
    for c in api.clients:
        c.close()
