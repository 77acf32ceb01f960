"""Authorization code with PKCE against the running simulator, over HTTP."""

from __future__ import annotations

import base64
import json

import httpx

from simulator.cloud import DEFAULT_SCOPE, RunningCloud
from tests.simulator.flows import (
    REDIRECT_URI,
    authorize,
    bearer,
    exchange,
    get_code,
    pkce_pair,
    redirect_params,
)


def test_pkce_code_exchange_gives_working_tokens(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    code, verifier = get_code(http, yoto_cloud.client_id)
    answer = exchange(http, yoto_cloud.client_id, code, verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["refresh_token"]
    assert "offline_access" in tokens["scope"].split()
    assert http.get("/device-v2/devices/mine", headers=bearer(tokens["access_token"])).status_code == 200
    claims = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "=="))
    assert claims["aud"][0] == "https://api.yotoplay.com"
    assert claims["azp"] == yoto_cloud.client_id


def test_json_token_request_is_accepted(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    code, verifier = get_code(http, yoto_cloud.client_id)
    answer = exchange(http, yoto_cloud.client_id, code, verifier, as_json=True)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"]


def test_state_is_passed_through(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    _, challenge = pkce_pair()
    params = redirect_params(authorize(http, yoto_cloud.client_id, challenge, state="opaque/+= value"))
    assert params["state"] == "opaque/+= value"
    assert params["code"]


def test_wrong_verifier_is_refused_and_spends_the_code(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    code, verifier = get_code(http, yoto_cloud.client_id)
    wrong, _ = pkce_pair()
    answer = exchange(http, yoto_cloud.client_id, code, wrong)
    assert answer.status_code == 403
    assert answer.json()["error"] == "invalid_grant"
    assert exchange(http, yoto_cloud.client_id, code, verifier).json()["error"] == "invalid_grant"


def test_replayed_code_is_refused_and_revokes_what_it_issued(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    code, verifier = get_code(http, yoto_cloud.client_id)
    first = exchange(http, yoto_cloud.client_id, code, verifier).json()
    again = exchange(http, yoto_cloud.client_id, code, verifier)
    assert again.status_code == 403
    assert again.json() == {"error": "invalid_grant", "error_description": "Invalid authorization code"}
    assert http.get("/content/mine", headers=bearer(first["access_token"])).status_code == 401
    assert yoto_cloud.stats()["codes_replayed"] == 1


def test_redirect_uri_must_match_at_exchange(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    code, verifier = get_code(http, yoto_cloud.client_id)
    body = {
        "grant_type": "authorization_code",
        "client_id": yoto_cloud.client_id,
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI + "/other",
    }
    answer = http.post("/oauth/token", data=body)
    assert answer.status_code == 403
    assert "redirect_uri" in answer.json()["error_description"]


def test_code_expires(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    code, verifier = get_code(http, yoto_cloud.client_id)
    yoto_cloud.advance(61)
    answer = exchange(http, yoto_cloud.client_id, code, verifier)
    assert answer.json() == {"error": "invalid_grant", "error_description": "Authorization code expired"}


def test_missing_or_plain_challenge_is_an_error_redirect(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    missing = redirect_params(authorize(http, yoto_cloud.client_id, None))
    assert missing["error"] == "invalid_request"
    assert "code_challenge" in missing["error_description"]
    assert missing["state"] == "st-123"
    assert "code" not in missing
    _, challenge = pkce_pair()
    plain = redirect_params(authorize(http, yoto_cloud.client_id, challenge, code_challenge_method="plain"))
    assert plain["error"] == "invalid_request"
    wrong_type = redirect_params(authorize(http, yoto_cloud.client_id, challenge, response_type="token"))
    assert wrong_type["error"] == "unsupported_response_type"


def test_unknown_client_or_bad_redirect_gets_a_page_not_a_redirect(
    yoto_cloud: RunningCloud, http: httpx.Client
) -> None:
    _, challenge = pkce_pair()
    unknown = authorize(http, "someone-else", challenge)
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    assert "Unknown client_id" in unknown.text
    bad_uri = authorize(http, yoto_cloud.client_id, challenge, redirect_uri="javascript:alert(1)")
    assert bad_uri.status_code == 400
    assert "location" not in bad_uri.headers


def test_registered_redirect_uris_are_enforced(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    yoto_cloud.configure(redirect_uris=["http://127.0.0.1:9999/cb"])
    _, challenge = pkce_pair()
    assert authorize(http, yoto_cloud.client_id, challenge).status_code == 400
    ok = authorize(http, yoto_cloud.client_id, challenge, redirect_uri="http://127.0.0.1:9999/cb")
    assert ok.status_code == 302
    assert ok.headers["location"].startswith("http://127.0.0.1:9999/cb?code=")


def test_wrong_audience_and_denied_consent(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    _, challenge = pkce_pair()
    aud = redirect_params(authorize(http, yoto_cloud.client_id, challenge, audience="https://elsewhere"))
    assert aud["error"] == "invalid_request"
    yoto_cloud.configure(auto_consent=False)
    denied = redirect_params(authorize(http, yoto_cloud.client_id, challenge))
    assert denied["error"] == "access_denied"
    assert denied["state"] == "st-123"


def test_no_refresh_token_without_offline_access(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    code = redirect_params(authorize(http, yoto_cloud.client_id, challenge, scope="user:content:manage"))["code"]
    tokens = exchange(http, yoto_cloud.client_id, code, verifier).json()
    assert "refresh_token" not in tokens
    assert tokens["access_token"]


def test_token_endpoint_refuses_unknown_client_and_grant(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    unknown = http.post("/oauth/token", data={"grant_type": "refresh_token", "client_id": "nope"})
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_client"
    grant = http.post("/oauth/token", data={"grant_type": "password", "client_id": yoto_cloud.client_id})
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"
    not_object = http.post("/oauth/token", json=["refresh_token"])
    assert not_object.status_code == 400
    assert not_object.json()["error"] == "invalid_request"
    odd_types = {"grant_type": "authorization_code", "client_id": yoto_cloud.client_id, "code": 7, "code_verifier": 1}
    assert http.post("/oauth/token", json=odd_types).json()["error"] == "invalid_grant"


def test_one_url_serves_both_hosts(yoto_cloud: RunningCloud) -> None:
    assert yoto_cloud.auth_url == yoto_cloud.api_url == yoto_cloud.url
    assert yoto_cloud.url == f"http://127.0.0.1:{yoto_cloud.port}"
    assert yoto_cloud.env() == {
        "YOTO_API_URL": yoto_cloud.url,
        "YOTO_AUTH_URL": yoto_cloud.url,
        "YOTO_CLIENT_ID": "yoto-sim-client",
    }


def test_a_scope_the_app_has_not_pre_approved_fails_sign_in(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    """Each scope a login asks for must be ticked for the app on Yoto's dashboard."""
    assert yoto_cloud.config.approved_scopes == DEFAULT_SCOPE.split()
    _, challenge = pkce_pair()
    for scope in ("openid profile offline_access", "offline_access family:device-status:view"):
        refused = redirect_params(authorize(http, yoto_cloud.client_id, challenge, scope=scope))
        assert refused["error"] == "access_denied" and refused["state"] == "st-123"
        assert "scopes that have not been pre-approved" in refused["error_description"]
        assert "code" not in refused
    device = http.post("/oauth/device/code", data={"client_id": yoto_cloud.client_id, "scope": "openid offline_access"})
    assert device.status_code == 403 and device.json()["error"] == "access_denied"
    assert "scopes that have not been pre-approved: openid" in device.json()["error_description"]
    yoto_cloud.configure(approved_scopes=[*DEFAULT_SCOPE.split(), "openid", "profile"])
    assert "code" in redirect_params(authorize(http, yoto_cloud.client_id, challenge, scope="openid profile"))
