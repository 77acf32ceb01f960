"""OAuth through the client: the PKCE URL, code exchange, device login, refresh rotation."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.yoto.client import YotoClient
from core.errors import ConfigError, RelinkNeeded, UpstreamRejected, UpstreamTimeout
from simulator.cloud import RunningCloud
from tests.yoto.conftest import REDIRECT_URI, make_client, pkce_link


def test_authorize_url_carries_every_pkce_parameter(client: YotoClient, yoto_cloud: RunningCloud) -> None:
    request = client.authorize_request(REDIRECT_URI, state="chosen-state")
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{yoto_cloud.auth_url}/authorize"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(request.code_verifier.encode()).digest()).rstrip(b"=")
    assert q == {
        "response_type": "code",
        "client_id": yoto_cloud.client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        "state": "chosen-state",
        "audience": "https://api.yotoplay.com",
        "scope": q["scope"],
    }
    assert "offline_access" in q["scope"].split()
    assert 43 <= len(request.code_verifier) <= 128
    other = client.authorize_request(REDIRECT_URI)
    assert other.state != request.state and len(other.state) >= 20
    assert other.code_verifier != request.code_verifier


def test_pkce_login_gives_working_tokens(client: YotoClient, yoto_cloud: RunningCloud) -> None:
    grant = pkce_link(client)
    assert grant.refresh_token and grant.expires_in == 3600
    assert [d.device_id for d in client.list_devices(grant.access_token)]


def test_a_wrong_verifier_is_refused_with_yotos_reason(client: YotoClient) -> None:
    request = client.authorize_request(REDIRECT_URI)
    location = httpx.get(request.url, follow_redirects=False, timeout=5).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    with pytest.raises(UpstreamRejected, match="Yoto refused the login"):
        client.exchange_code(code, code_verifier="x" * 50, redirect_uri=REDIRECT_URI)


def test_refresh_rotates_and_a_reused_refresh_token_means_relink(client: YotoClient, yoto_cloud: RunningCloud) -> None:
    first = pkce_link(client)
    assert first.refresh_token
    second = client.refresh(first.refresh_token)
    assert second.refresh_token and second.refresh_token != first.refresh_token
    assert client.list_devices(second.access_token)
    with pytest.raises(RelinkNeeded, match="relink your Yoto account"):
        client.refresh(first.refresh_token)
    assert yoto_cloud.stats()["reuse_detected"] == 1
    with pytest.raises(RelinkNeeded):
        client.refresh(second.refresh_token)  # the whole chain was revoked


def test_device_login_pending_slow_down_then_linked(client: YotoClient, yoto_cloud: RunningCloud) -> None:
    start = client.start_device_login()
    assert start.user_code and start.verification_uri and start.interval == 0.5
    assert client.poll_device_login(start.device_code, interval=start.interval).status == "pending"
    fast = client.poll_device_login(start.device_code, interval=start.interval)
    assert fast.status == "slow_down" and fast.interval == start.interval + 5
    yoto_cloud.approve_device(start.user_code)
    yoto_cloud.advance(60)  # past any interval the polling has earned
    done = client.poll_device_login(start.device_code, interval=fast.interval)
    assert done.status == "linked" and done.grant is not None and done.grant.refresh_token
    assert client.list_devices(done.grant.access_token)


def test_device_login_expired_and_denied(client: YotoClient, yoto_cloud: RunningCloud) -> None:
    start = client.start_device_login()
    yoto_cloud.advance(start.expires_in + 1)
    assert client.poll_device_login(start.device_code).status == "expired"
    other = client.start_device_login()
    yoto_cloud.deny_device(other.user_code)
    assert client.poll_device_login(other.device_code).status == "denied"


def test_oauth_without_a_client_id_names_the_setting(yoto_cloud: RunningCloud) -> None:
    c = YotoClient(api_url=yoto_cloud.url, auth_url=yoto_cloud.url, client_id=None)
    with pytest.raises(ConfigError, match="YOTO_CLIENT_ID"):
        c.authorize_request(REDIRECT_URI)
    c.close()


def test_refresh_is_retried_on_429_but_a_timeout_is_not(yoto_cloud: RunningCloud) -> None:
    client = make_client(yoto_cloud, timeout_s=0.3)
    grant = pkce_link(client)
    assert grant.refresh_token
    yoto_cloud.rate_limit_next(retry_after=0.2, path_prefix="/oauth/token")
    started = time.monotonic()
    again = client.refresh(grant.refresh_token)
    assert time.monotonic() - started >= 0.2
    yoto_cloud.clear_requests()
    yoto_cloud.slow_next(delay_s=1.0, path_prefix="/oauth/token")
    with pytest.raises(UpstreamTimeout):
        client.refresh(again.refresh_token or "")
    # The simulator logs the slow request once it has answered it (0.7 s on, or later on a busy machine).
    deadline = time.monotonic() + 10
    while not yoto_cloud.requests("POST", "/oauth/token") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a resend would have been answered at once
    assert len(yoto_cloud.requests("POST", "/oauth/token")) == 1, "a refresh that may have happened is never resent"
    client.close()
