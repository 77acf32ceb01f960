"""A family on a running server over real HTTP: uvicorn on 127.0.0.1 (both adapter
sets), the fake Yoto cloud and a feed host on 127.0.0.1; the admin (mum) and a
member (kid) made on the identity side only, as members made before member ids
existed; each links their own Yoto account through the cloud's consent page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from adapters import Adapters
from core.settings import Settings
from simulator.cloud import RunningCloud
from tests.api.conftest import ADMIN, MEMBER
from tests.audio_fixtures import write_tone
from tests.feeds import FeedServer, Served, rss, serve_feeds
from tests.live_server import live_app
from tests.waiting import eventually
from tests.yoto_api.conftest import follow_to_callback

DONE = ("ok", "partial", "failed")


@dataclass
class Family:
    base: str
    adapters: Adapters
    cloud: RunningCloud
    feeds: FeedServer
    tone: bytes
    clients: list[httpx.Client] = field(default_factory=list)

    def login(self, who: tuple[str, str]) -> httpx.Client:
        c = httpx.Client(base_url=self.base, headers={"Origin": self.base}, timeout=60)
        self.clients.append(c)
        r = c.post("/api/auth/login", json={"username": who[0], "password": who[1]})
        assert r.status_code == 200, r.text
        return c

    def link(self, client: httpx.Client, yoto_account: str) -> None:
        """The member's own Yoto login (PKCE through the fake cloud's consent page)."""
        self.cloud.login_as(yoto_account)
        r = client.get(follow_to_callback(client))  # type: ignore[arg-type]
        assert r.status_code == 303 and r.headers["location"] == "/?yoto=linked", r.text
        assert client.get("/api/yoto/status").json()["linked"] is True


@contextmanager
def linked_family(
    backend_settings: Settings, yoto_cloud: RunningCloud, tmp_path: Path, **changes: Any
) -> Iterator[Family]:
    settings = backend_settings.model_copy(
        update={
            "allow_http_public_url": True,
            "allow_private_feeds": True,  # the feed host is on 127.0.0.1
            "scheduler_enabled": False,
            "mqtt_enabled": False,
            "yoto_api_url": yoto_cloud.api_url,
            "yoto_auth_url": yoto_cloud.auth_url,
            "yoto_client_id": yoto_cloud.client_id,
            "yoto_timeout_s": 20.0,
            **changes,
        }
    )
    adapters = Adapters(settings)
    adapters.identity.create_user(ADMIN[0], ADMIN[1], is_admin=True)
    adapters.identity.create_user(MEMBER[0], MEMBER[1])
    tone = write_tone(tmp_path / "tone.mp3", "mp3", seconds=1.0).read_bytes()
    with serve_feeds() as feeds, live_app(settings, tmp_path) as base:
        built = Family(base, adapters, yoto_cloud, feeds, tone)
        yield built
        for c in built.clients:
            c.close()


def finished(client: httpx.Client, answer: httpx.Response) -> dict[str, Any]:
    """The run of a 202 (queued: polled until it ends) or of a 201/200 (run in the request)."""
    assert answer.status_code in (200, 201, 202), answer.text
    body = answer.json()
    run = body.get("last_run", body)
    if run["status"] in DONE:
        return dict(run)

    def ended() -> dict[str, Any] | None:
        got = client.get(f"/api/runs/{run['id']}").json()
        return got if got.get("status") in DONE else None

    return dict(eventually(ended, 60, every=0.1))


def serve_podcast(family: Family, episode: str = "ep1", *, path: str = "/feed.xml") -> str:
    """A one-episode feed at `path` (a query string may be part of it, as a private feed's key is)."""
    family.feeds.routes[f"/{episode}.mp3"] = Served(200, family.tone, {"Content-Type": "audio/mpeg"})
    url = f"{family.feeds.url}/{episode}.mp3"
    body = rss("Bedtime Tales", [(f"guid-{episode}", f"Episode {episode}", "Mon, 01 Jun 2026 07:00:00 GMT", url)])
    family.feeds.routes[path] = Served(200, body, {"Content-Type": "application/rss+xml"})
    return family.feeds.url + path
