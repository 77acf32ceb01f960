"""Linking a member's Yoto account over HTTP: PKCE, device code, status, unlink."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from core.records import utcnow
from core.settings import Settings
from simulator.cloud import RunningCloud
from tests import yoto_sim
from tests.yoto_api.conftest import ADMIN, MEMBER, YApi, build_yapi, close, follow_to_callback, link, query_of


def token_posts(yapi: YApi) -> list[dict[str, str]]:
    return [r.form() for r in yapi.cloud.requests(method="POST", path_prefix="/oauth/token")]


def let_the_interval_pass(yapi: YApi, member: str = "mum") -> None:
    """As if the poll interval had passed here: the device login's record says the next poll is due.
    The interval on a clock is tests/services/test_device_link.py's; test_device_login_pending_then_linked
    waits it out."""
    store = yapi.api.adapters.records.settings
    key = f"yoto-device:{member}"
    store.put(key, {**store.get(key), "next_poll_at": utcnow().isoformat()})


def test_pkce_link_redirects_to_yoto_then_back_to_the_ui(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    assert mum.get("/api/yoto/status").json()["linked"] is False
    r = mum.get("/api/yoto/login")
    assert r.status_code == 302
    target = urlsplit(r.headers["location"])
    q = query_of(r.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{yapi.cloud.auth_url}/authorize"
    assert q["response_type"] == "code" and q["client_id"] == yapi.cloud.client_id
    assert q["redirect_uri"] == "http://127.0.0.1:8000/api/yoto/callback"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["audience"] == "https://api.yotoplay.com" and "offline_access" in q["scope"].split()
    # The verifier stays on the server: nothing the browser sees carries it.
    verifier = yapi.api.adapters.records.settings.get("yoto-login:mum")["verifier"]
    assert verifier not in r.headers["location"] and verifier not in r.text
    assert mum.get("/api/yoto/status").json()["login_pending"] is True

    consent = httpx.get(r.headers["location"], follow_redirects=False, timeout=5)
    back = urlsplit(consent.headers["location"])
    assert query_of(consent.headers["location"])["state"] == q["state"]
    done = mum.get(f"{back.path}?{back.query}")
    assert done.status_code == 303 and done.headers["location"] == "/?yoto=linked"
    (exchange,) = token_posts(yapi)
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"] == verifier
    status = mum.get("/api/yoto/status").json()
    assert status["linked"] is True and status["login_pending"] is False
    assert status["access_expires_at"] and "token" not in str(status).lower()
    stored = yapi.api.adapters.records.tokens.get("mum")
    assert yapi.cloud.token_info(stored.access_token)["active"] is True
    # Another member is not linked by mum's login.
    assert yapi.login(MEMBER).get("/api/yoto/status").json()["linked"] is False


def test_a_forged_state_is_refused_before_any_code_exchange(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    callback = follow_to_callback(mum)
    code = query_of(callback)["code"]
    for state in ("forged", "", "x" * 2048):
        r = mum.get("/api/yoto/callback", params={"state": state, "code": code})
        assert r.status_code == 403, r.text
        assert "start linking again" in r.json()["detail"]
    r = mum.get("/api/yoto/callback", params={"code": code})
    assert r.status_code == 403
    assert token_posts(yapi) == []
    assert mum.get("/api/yoto/status").json()["linked"] is False


def test_a_replayed_state_is_refused_and_the_code_is_exchanged_once(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    callback = follow_to_callback(mum)
    assert mum.get(callback).status_code == 303
    again = mum.get(callback)
    assert again.status_code == 403
    assert len(token_posts(yapi)) == 1
    assert mum.get("/api/yoto/status").json()["linked"] is True


def test_a_state_is_bound_to_the_member_who_started_it(yapi: YApi) -> None:
    kid = yapi.login(MEMBER)
    mum = yapi.login(ADMIN)
    kids_callback = follow_to_callback(kid)
    assert mum.get(kids_callback).status_code == 403
    assert token_posts(yapi) == []
    assert yapi.api.client().get(kids_callback).status_code == 401
    assert kid.get("/api/yoto/status").json()["linked"] is False


def test_an_expired_login_is_refused(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    yapi = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path, yoto_login_ttl_s=1)
    try:
        mum = yapi.login(ADMIN)
        callback = follow_to_callback(mum)
        time.sleep(1.2)
        assert mum.get(callback).status_code == 403
        assert token_posts(yapi) == []
    finally:
        close(yapi)


def test_a_login_the_person_refused_goes_back_to_the_ui_with_the_reason(yapi: YApi) -> None:
    yapi.cloud.configure(auto_consent=False)
    mum = yapi.login(ADMIN)
    callback = follow_to_callback(mum)
    assert query_of(callback)["error"] == "access_denied"
    r = mum.get(callback)
    assert r.status_code == 303
    assert query_of(r.headers["location"])["yoto"] == "error"
    assert token_posts(yapi) == []
    assert mum.get("/api/yoto/status").json()["linked"] is False


def test_device_login_pending_then_linked(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    start = mum.post("/api/yoto/device-login")
    assert start.status_code == 200, start.text
    body = start.json()
    assert set(body) == {"user_code", "verification_uri", "verification_uri_complete", "interval", "expires_in"}
    assert "device_code" not in start.text
    assert body["interval"] == yoto_sim.TEST_DEVICE_INTERVAL_S
    yapi.cloud.clear_requests()

    # Sooner than the interval: answered here, Yoto is not asked.
    early = mum.post("/api/yoto/device-login/poll").json()
    assert early["status"] == "pending" and 0 < early["interval"] <= body["interval"]
    assert token_posts(yapi) == []

    time.sleep(body["interval"] + 0.1)
    waiting = mum.post("/api/yoto/device-login/poll").json()
    assert waiting == {"status": "pending", "interval": body["interval"], "detail": None}
    assert len(token_posts(yapi)) == 1

    yapi.cloud.approve_device(body["user_code"])
    time.sleep(body["interval"] + 0.1)
    assert mum.post("/api/yoto/device-login/poll").json()["status"] == "linked"
    assert mum.get("/api/yoto/status").json() | {"access_expires_at": None, "linked_at": None} == {
        "linked": True,
        "access_expires_at": None,
        "linked_at": None,
        "login_pending": False,
        "device_login_pending": False,
    }
    # The login is over: a further poll says so without asking Yoto.
    before = len(token_posts(yapi))
    assert mum.post("/api/yoto/device-login/poll").json()["status"] == "expired"
    assert len(token_posts(yapi)) == before


def test_device_login_honours_slow_down(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    body = mum.post("/api/yoto/device-login").json()
    device_code = yapi.api.adapters.records.settings.get("yoto-device:mum")["device_code"]
    let_the_interval_pass(yapi)
    # Someone else polls with the same code first, so ours comes too soon for Yoto.
    httpx.post(
        f"{yapi.cloud.auth_url}/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": yapi.cloud.client_id,
            "device_code": device_code,
        },
        timeout=5,
    )
    slowed = mum.post("/api/yoto/device-login/poll").json()
    assert slowed["status"] == "pending" and slowed["interval"] == body["interval"] + 5
    assert token_posts(yapi)[-1]["device_code"] == device_code
    # The wider interval is kept (the old one is no longer enough): tests/services/test_device_link.py.
    assert yapi.api.adapters.records.settings.get("yoto-device:mum")["interval"] == body["interval"] + 5


def test_device_login_that_expires_says_so(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    body = mum.post("/api/yoto/device-login").json()
    yapi.cloud.advance(body["expires_in"] + 1)
    let_the_interval_pass(yapi)
    r = mum.post("/api/yoto/device-login/poll").json()
    assert r["status"] == "expired" and r["detail"]
    assert mum.get("/api/yoto/status").json()["linked"] is False


def test_unlink_forgets_the_tokens(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    link(mum)
    assert mum.delete("/api/yoto/link").status_code == 204
    assert mum.get("/api/yoto/status").json()["linked"] is False
    assert mum.delete("/api/yoto/link").status_code == 204
    r = mum.get("/api/icons")
    assert r.status_code == 409 and "link" in r.json()["detail"]


def test_linking_needs_a_client_id_and_a_login(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    yapi = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path, yoto_client_id=None)
    try:
        assert yapi.api.client().get("/api/yoto/login").status_code == 401
        mum = yapi.login(ADMIN)
        for r in (mum.get("/api/yoto/login"), mum.post("/api/yoto/device-login")):
            assert r.status_code == 409 and "YOTO_CLIENT_ID" in r.json()["detail"]
        assert yapi.cloud.requests() == []
    finally:
        close(yapi)
