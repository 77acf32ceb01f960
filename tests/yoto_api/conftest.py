"""The API's Yoto routes over HTTP (TestClient), against a running fake Yoto
cloud (a real HTTP server on 127.0.0.1), on both adapter sets (`[local]`, `[aws]`).

`yapi` is the app wired to the simulator with the settings a developer would
use (`ALLOW_HTTP_PUBLIC_URL=true`), a fast retry budget, a one-second Yoto
timeout and a short debounce window; `link(yapi, client)` links a member's
account through the real PKCE flow (browser hops done by hand).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from core.records import AudioItem
from core.settings import Settings
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.api.conftest import ADMIN, MEMBER, Api, make_api
from wiring import Root, root_for

yoto_cloud = yoto_sim.yoto_cloud

DEBOUNCE_S = 0.6
YOTO_TIMEOUT_S = 1.0
OTHER = ("ben", "banana pancake tuesday")

YOTO_TEST_SETTINGS: dict[str, Any] = {
    "allow_http_public_url": True,
    "yoto_timeout_s": YOTO_TIMEOUT_S,
    "yoto_max_tries": 3,
    "yoto_backoff_s": 0.01,
    "yoto_max_wait_s": 2.0,
    "max_card_tracks": 5,
    "max_cover_mb": 0.05,
    "card_sync_debounce_s": DEBOUNCE_S,
    "card_sync_timer": True,
}


@dataclass
class YApi:
    api: Api
    cloud: RunningCloud

    @property
    def settings(self) -> Settings:
        return self.api.settings

    @property
    def services(self) -> Root:
        return root_for(self.api.adapters)

    def login(self, who: tuple[str, str] = ADMIN) -> TestClient:
        return self.api.login(who)

    def item(self, owner: str = ADMIN[0], title: str = "a song") -> AudioItem:
        return self.api.add_item(owner=owner, title=title)

    def yoto_posts(self, path: str = "/content") -> list[Any]:
        return self.cloud.requests(method="POST", path_prefix=path)

    def sim_card(self, card_id: str) -> dict[str, Any]:
        card = self.cloud.card(card_id)
        assert card is not None, f"the simulator has no card {card_id}"
        return card


def build_yapi(
    settings: Settings, cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **changes: Any
) -> YApi:
    update = {
        **YOTO_TEST_SETTINGS,
        "yoto_api_url": cloud.api_url,
        "yoto_auth_url": cloud.auth_url,
        "yoto_client_id": cloud.client_id,
        **changes,
    }
    api = make_api(settings.model_copy(update=update), monkeypatch, tmp_path)
    api.adapters.identity.create_user(OTHER[0], OTHER[1], is_admin=False)
    return YApi(api, cloud)


@pytest.fixture
def yapi(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[YApi]:
    built = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path)
    yield built
    close(built)


def close(built: YApi) -> None:
    built.services.playlist_cards.cancel_timers()
    for c in built.api.clients:
        c.close()


def follow_to_callback(client: TestClient) -> str:
    """GET /api/yoto/login, then the simulator's auto-approving consent; answers
    the callback path + query Yoto sent the browser back to."""
    r = client.get("/api/yoto/login")
    assert r.status_code == 302, r.text
    consent = httpx.get(r.headers["location"], follow_redirects=False, timeout=5)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    assert back.path == "/api/yoto/callback"
    return f"{back.path}?{back.query}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def link(client: TestClient) -> None:
    """Link the client's member through the PKCE flow."""
    r = client.get(follow_to_callback(client))
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/?yoto=linked"
    assert client.get("/api/yoto/status").json()["linked"] is True


__all__ = ["ADMIN", "MEMBER", "OTHER", "YApi", "build_yapi", "close", "follow_to_callback", "link", "query_of"]
