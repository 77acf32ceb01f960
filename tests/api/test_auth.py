"""Login, sessions, throttling and CSRF, on both adapter sets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from tests.api.conftest import ADMIN, MEMBER, ORIGIN, Api, make_api

COOKIE = "yss_session"


def _login(c: TestClient, who: tuple[str, str]) -> httpx.Response:
    return c.post("/api/auth/login", json={"username": who[0], "password": who[1]})


def test_login_me_logout(api: Api) -> None:
    c = api.client()
    assert c.get("/api/auth/me").status_code == 401
    r = _login(c, ADMIN)
    assert r.status_code == 200
    assert r.json() == {"username": ADMIN[0], "is_admin": True}
    set_cookie = r.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in set_cookie
    assert "samesite=lax" in set_cookie.lower()
    assert "Secure" not in set_cookie  # plain http to 127.0.0.1 is the one exception
    assert c.get("/api/auth/me").json() == {"username": ADMIN[0], "is_admin": True}
    cookie = c.cookies[COOKIE]

    r = c.post("/api/auth/logout")
    assert r.status_code == 204
    assert c.get("/api/auth/me").status_code == 401
    # The old cookie is dead on the server, not just forgotten by the client.
    replay = api.client()
    replay.cookies.set(COOKIE, cookie)
    r = replay.get("/api/auth/me")
    assert r.status_code == 401
    assert r.json()["detail"]


def test_member_me_is_not_admin(api: Api) -> None:
    c = api.login(MEMBER)
    assert c.get("/api/auth/me").json() == {"username": MEMBER[0], "is_admin": False}


def test_cookie_is_secure_off_localhost(api: Api) -> None:
    c = api.client(base_url="https://family.example")
    r = _login(c, ADMIN)
    assert r.status_code == 200
    assert "Secure" in r.headers["set-cookie"]
    c2 = api.client(base_url="http://family.example")
    assert "Secure" in _login(c2, ADMIN).headers["set-cookie"]


def test_wrong_user_and_wrong_password_look_the_same(api: Api) -> None:
    wrong_password = _login(api.client(address="10.0.0.2"), (ADMIN[0], "not the password at all"))
    no_such_user = _login(api.client(address="10.0.0.3"), ("nobody", "not the password at all"))
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json() == no_such_user.json()
    assert COOKIE not in wrong_password.cookies and COOKIE not in no_such_user.cookies


def test_new_session_id_at_every_login(api: Api) -> None:
    a, b = api.login(ADMIN), api.login(ADMIN)
    first, second = a.cookies[COOKIE], b.cookies[COOKIE]
    assert first != second
    assert a.get("/api/auth/me").status_code == 200 and b.get("/api/auth/me").status_code == 200
    # Logging in again from the same client replaces (and revokes) its session.
    assert _login(a, ADMIN).status_code == 200
    assert a.cookies[COOKIE] not in (first, second)
    stale = api.client()
    stale.cookies.set(COOKIE, first)
    assert stale.get("/api/auth/me").status_code == 401
    assert b.get("/api/auth/me").status_code == 200


def test_tampered_cookie_is_rejected(api: Api) -> None:
    c = api.login(ADMIN)
    sid, _, sig = c.cookies[COOKIE].rpartition(".")
    forged = api.client()
    forged.cookies.set(COOKIE, f"{sid}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}")
    assert forged.get("/api/auth/me").status_code == 401
    forged.cookies.set(COOKIE, sid)
    assert forged.get("/api/auth/me").status_code == 401


def test_throttle_per_username(api: Api) -> None:
    """The window's end letting the name in again: tests/services/test_login_window.py on a manual
    clock, over counters whose windows end on time on SQLite and DynamoDB (tests/contract/test_records.py)."""
    limit = api.settings.login_max_failures
    for i in range(limit):
        # Different addresses: only the username counter can trip.
        r = _login(api.client(address=f"10.1.0.{i}"), (ADMIN[0], "wrong wrong wrong"))
        assert r.status_code == 401
    r = _login(api.client(address="10.1.1.1"), ADMIN)  # even the right password waits
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["detail"]
    # Another user is not affected.
    assert _login(api.client(address="10.1.1.2"), MEMBER).status_code == 200


def test_throttle_per_client_address(api: Api) -> None:
    limit = api.settings.login_max_failures_per_address
    for i in range(limit):
        assert _login(api.client(address="10.2.0.9"), (f"guess{i}", "wrong wrong wrong")).status_code == 401
    r = _login(api.client(address="10.2.0.9"), MEMBER)
    assert r.status_code == 429
    assert "retry-after" in r.headers
    assert _login(api.client(address="10.2.0.10"), MEMBER).status_code == 200


def test_success_resets_the_username_counter(api: Api) -> None:
    limit = api.settings.login_max_failures
    for round_ in range(3):
        for i in range(limit - 1):
            c = api.client(address=f"10.3.{round_}.{i}")
            assert _login(c, (ADMIN[0], "wrong wrong wrong")).status_code == 401
        assert _login(api.client(address=f"10.3.{round_}.200"), ADMIN).status_code == 200


def test_login_needs_a_matching_origin(api: Api) -> None:
    r = _login(api.client(origin=None), ADMIN)
    assert r.status_code == 403
    assert "Origin" in r.json()["detail"]
    r = _login(api.client(origin="https://evil.example"), ADMIN)
    assert r.status_code == 403
    assert "evil.example" in r.json()["detail"]
    assert _login(api.client(origin="null"), ADMIN).status_code == 403
    # A browser that leaves Origin out still sends Referer.
    c = api.client(origin=None)
    r = c.post(
        "/api/auth/login",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        headers={"Referer": f"{ORIGIN}/library?x=1"},
    )
    assert r.status_code == 200
    r = api.client(origin=None).post(
        "/api/auth/login",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        headers={"Referer": "https://evil.example/page"},
    )
    assert r.status_code == 403


def test_cookie_requests_that_change_state_need_a_matching_origin(api: Api) -> None:
    c = api.login(ADMIN)
    item = api.add_item()
    cookie = c.cookies[COOKIE]
    for origin in (None, "https://evil.example", "http://127.0.0.1:8001", "null"):
        bad = api.client(origin=origin)
        bad.cookies.set(COOKIE, cookie)
        assert bad.get("/api/auth/me").status_code == 200  # reads are fine
        r = bad.patch(f"/api/audio/{item.id}", json={"title": "hijacked"})
        assert r.status_code == 403, origin
        assert "CSRF" in r.json()["detail"]
        assert bad.delete(f"/api/audio/{item.id}").status_code == 403
        assert bad.post("/api/users", json={"username": "evil", "password": "x" * 20}).status_code == 403
        assert bad.post("/api/auth/logout").status_code == 403
    assert api.adapters.records.audio.get(item.id).title == "a song"
    assert c.get("/api/auth/me").status_code == 200  # the forged logouts did nothing


def test_allowed_origins_are_accepted(api_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = api_settings.model_copy(update={"allowed_origins": ["https://ui.example"]})
    other = make_api(settings, monkeypatch, tmp_path)
    try:
        assert _login(other.client(origin="https://ui.example"), ADMIN).status_code == 200
        assert _login(other.client(origin="https://ui.example.evil"), ADMIN).status_code == 403
    finally:
        for c in other.clients:
            c.close()
