"""OAuth through the client: the PKCE URL, code exchange, device login, refresh rotation."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.yoto.client import YotoClient
from core.errors import ConfigError, RelinkNeeded, UpstreamError, UpstreamRejected, UpstreamTimeout
from core.settings import Settings
from core.yoto.cloud import DEFAULT_SCOPES
from simulator.cloud import RunningCloud
from tests.servers import free_port
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


def _token_posts(cloud: RunningCloud) -> int:
    return len(cloud.requests("POST", "/oauth/token"))


@pytest.mark.parametrize("kind", ["server_error", "disconnect"])
def test_a_refresh_whose_answer_was_lost_is_never_resent(yoto_cloud: RunningCloud, kind: str) -> None:
    """Yoto rotated the token, the answer was lost: a resend would present a spent
    refresh token, which revokes the whole chain (every device's login)."""
    client = make_client(yoto_cloud)
    grant = pkce_link(client)
    yoto_cloud.clear_requests()
    yoto_cloud.fail_next(kind, path_prefix="/oauth/token", after=True)
    with pytest.raises(UpstreamError) as failed:
        client.refresh(grant.refresh_token or "")
    assert not isinstance(failed.value, RelinkNeeded)
    assert _token_posts(yoto_cloud) == 1
    assert yoto_cloud.stats()["reuse_detected"] == 0 and yoto_cloud.stats()["chains_revoked"] == 0
    client.close()


def test_a_refresh_answered_5xx_is_not_retried_and_the_token_still_works(yoto_cloud: RunningCloud) -> None:
    client = make_client(yoto_cloud)
    grant = pkce_link(client)
    yoto_cloud.clear_requests()
    yoto_cloud.server_error_next(status=503, path_prefix="/oauth/token")
    with pytest.raises(UpstreamError, match="503"):
        client.refresh(grant.refresh_token or "")
    assert _token_posts(yoto_cloud) == 1
    assert client.refresh(grant.refresh_token or "").refresh_token, "nothing was spent: the next refresh works"
    client.close()


def test_a_code_exchange_whose_answer_was_lost_is_never_resent(yoto_cloud: RunningCloud) -> None:
    client = make_client(yoto_cloud)
    request = client.authorize_request(REDIRECT_URI)
    location = httpx.get(request.url, follow_redirects=False, timeout=5).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    yoto_cloud.server_error_next(path_prefix="/oauth/token", after=True)
    with pytest.raises(UpstreamError) as failed:
        client.exchange_code(code, code_verifier=request.code_verifier, redirect_uri=REDIRECT_URI)
    assert not isinstance(failed.value, UpstreamRejected)
    assert _token_posts(yoto_cloud) == 1 and yoto_cloud.stats()["codes_replayed"] == 0
    client.close()


def test_a_token_call_that_reached_nobody_is_retried(yoto_cloud: RunningCloud) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    client = YotoClient(api_url=dead, auth_url=dead, client_id="x", backoff_s=0.01, max_backoff_s=0.02)
    with pytest.raises(UpstreamError, match="after 4 tries: could not connect"):
        client.refresh("any")
    client.close()


def test_the_login_asks_for_exactly_the_scopes_the_service_uses(yoto_cloud: RunningCloud) -> None:
    used = (
        "offline_access",
        "user:content:manage",
        "family:devices:view",
        "family:devices:manage",  # the player's settings and alarms (PUT /device-v2/{id}/config)
        "family:devices:control",
    )
    assert tuple(DEFAULT_SCOPES.split()) == used
    assert Settings().yoto_scopes == DEFAULT_SCOPES
    client = make_client(yoto_cloud)
    q = parse_qs(urlsplit(client.authorize_request(REDIRECT_URI).url).query)
    assert q["scope"] == [DEFAULT_SCOPES]
    # A fresh app on the simulator has pre-approved the service's set: our default request passes.
    grant = pkce_link(client)
    assert grant.refresh_token and grant.scope == DEFAULT_SCOPES
    assert client.start_device_login().user_code
    client.close()


def test_an_extra_scope_comes_from_the_setting_and_must_be_pre_approved(yoto_cloud: RunningCloud) -> None:
    settings = Settings(
        yoto_api_url=yoto_cloud.url,
        yoto_auth_url=yoto_cloud.url,
        yoto_client_id=yoto_cloud.client_id,
        yoto_scopes=f"{DEFAULT_SCOPES}  family:library:view",
    )
    client = YotoClient.from_settings(settings)
    request = client.authorize_request(REDIRECT_URI)
    assert parse_qs(urlsplit(request.url).query)["scope"] == [f"{DEFAULT_SCOPES} family:library:view"]
    refused = parse_qs(urlsplit(httpx.get(request.url, timeout=5).headers["location"]).query)
    assert refused["error"] == ["access_denied"]
    assert "scopes that have not been pre-approved: family:library:view" in refused["error_description"][0]
    with pytest.raises(UpstreamRejected, match="scopes that have not been pre-approved"):
        client.start_device_login()
    yoto_cloud.configure(approved_scopes=[*DEFAULT_SCOPES.split(), "family:library:view"])
    assert "code" in parse_qs(urlsplit(httpx.get(request.url, timeout=5).headers["location"]).query)
    client.close()
