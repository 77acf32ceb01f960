"""Fixtures for scheduled work: a real feed server on 127.0.0.1, the API on the
local side with a linked account on the Yoto simulator, and audio to serve."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from adapters import Adapters
from core.yoto import TokenGrant
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.api.conftest import ADMIN, Api, make_api
from tests.audio_fixtures import write_tone

yoto_cloud, yoto_cloud_env = yoto_sim.yoto_cloud, yoto_sim.yoto_cloud_env


@dataclass
class Served:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """Serves `routes[path]`; honours If-None-Match against an ETag it was given; records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Served] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                served = owner.routes.get(self.path, Served(404, b"not here"))
                etag = served.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(served.status)
                for name, value in served.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def rss(title: str, episodes: list[tuple[str, str, str, str]]) -> bytes:
    """An RSS 2.0 document: episodes as (guid, title, RFC 822 date, enclosure URL)."""
    items = "".join(
        f"<item><title>{t}</title><guid isPermaLink='false'>{g}</guid><pubDate>{d}</pubDate>"
        f"<enclosure url='{u}' type='audio/mpeg' length='1000'/></item>"
        for g, t, d, u in episodes
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>{items}</channel></rss>".encode()


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
