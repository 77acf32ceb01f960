"""The Yoto client against the fake Yoto cloud (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.yoto.client import YotoClient
from core.yoto.cloud import TokenGrant
from simulator.cloud import RunningCloud
from tests import yoto_sim

yoto_cloud = yoto_sim.yoto_cloud

REDIRECT_URI = "http://127.0.0.1:8000/api/yoto/callback"
FAST_RETRIES = {"backoff_s": 0.01, "max_backoff_s": 0.05, "max_wait_s": 3.0}


def make_client(cloud: RunningCloud, **options: object) -> YotoClient:
    settings: dict[str, object] = {"timeout_s": 2.0, "connect_timeout_s": 1.0, **FAST_RETRIES, **options}
    return YotoClient(api_url=cloud.api_url, auth_url=cloud.auth_url, client_id=cloud.client_id, **settings)  # type: ignore[arg-type]


@pytest.fixture
def client(yoto_cloud: RunningCloud) -> Iterator[YotoClient]:
    c = make_client(yoto_cloud)
    yield c
    c.close()


def pkce_link(client: YotoClient) -> TokenGrant:
    """The whole authorization-code login: authorize (auto-approved), follow the redirect, exchange."""
    request = client.authorize_request(REDIRECT_URI)
    answer = httpx.get(request.url, follow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    assert query["state"] == request.state
    return client.exchange_code(query["code"], code_verifier=request.code_verifier, redirect_uri=REDIRECT_URI)


@pytest.fixture
def token(yoto_cloud: RunningCloud) -> str:
    return str(yoto_cloud.issue_tokens()["access_token"])
