"""Personal access tokens over the API on both adapter sets: made with a login
(the secret answered once), listed without it, revoked at once; a bearer request
acts as the token's owner, narrowed by its scopes, with no Origin check."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, MEMBER, Api


def make(client: TestClient, *scopes: str, name: str = "script") -> dict:
    r = client.post("/api/tokens", json={"name": name, "scopes": list(scopes), "expires_days": 30})
    assert r.status_code == 201, r.text
    return r.json()


def bearer(api: Api, token: str) -> TestClient:
    """A script: the token and no Origin, no cookie."""
    c = api.client(origin=None)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def test_the_secret_is_answered_once_and_stored_hashed(api: Api) -> None:
    mum = api.login(ADMIN)
    made = make(mum, "read", "cards")
    assert made["scopes"] == ["read", "cards"] and made["token"].startswith(f"yss_{made['id']}_")
    listed = mum.get("/api/tokens").json()
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0]
    secret = made["token"].split("_", 2)[2]
    stored = api.adapters.records.settings.get(f"pat:{made['id']}")
    assert secret not in str(stored) and len(stored["hash"]) == 64
    assert api.login(MEMBER).get("/api/tokens").json() == []  # another member sees none of them


def test_a_bearer_request_acts_as_its_owner_without_an_origin(api: Api) -> None:
    mum = api.login(ADMIN)
    item = api.add_item(title="owl")
    script = bearer(api, make(mum, "cards")["token"])
    assert [i["id"] for i in script.get("/api/audio").json()["items"]] == [item.id]
    r = script.post("/api/playlists", json={"name": "Owls", "audio_ids": [item.id]})  # no Origin, no CSRF check
    assert r.status_code == 201, r.text
    assert r.json()["owner"] == ADMIN[0]
    # The cookie client without an Origin is still refused: only a bearer skips the check.
    no_origin = api.login(ADMIN)
    del no_origin.headers["Origin"]
    assert no_origin.post("/api/playlists", json={"name": "x"}).status_code == 403


def test_scopes_narrow_and_never_widen(api: Api) -> None:
    mum, kid = api.login(ADMIN), api.login(MEMBER)
    reader = bearer(api, make(mum, "read")["token"])
    r = reader.post("/api/playlists", json={"name": "Owls"})
    assert r.status_code == 403 and "'cards' scope" in r.json()["detail"]
    carder = bearer(api, make(mum, "cards")["token"])
    r = carder.post("/api/players/p1/commands", json={"action": "pause"})
    assert r.status_code == 403 and "'players' scope" in r.json()["detail"]
    # No token makes tokens, changes users or logs in, whatever its scopes; nor reads the token list.
    every = bearer(api, make(mum, "read", "cards", "players")["token"])
    assert every.post("/api/tokens", json={"name": "more", "scopes": ["players"]}).status_code == 403
    assert every.get("/api/tokens").status_code == 403
    assert every.post("/api/users", json={"username": "eve", "password": "a long enough pass"}).status_code == 403
    # A member's token is a member: what an admin alone may do stays refused.
    kids = bearer(api, make(kid, "read", "cards", "players")["token"])
    assert kids.get("/api/users").status_code == 403
    assert kids.get("/api/auth/me").status_code == 403


def test_revoking_refuses_the_next_request(api: Api) -> None:
    mum, kid = api.login(ADMIN), api.login(MEMBER)
    made = make(mum, "read")
    script = bearer(api, made["token"])
    assert script.get("/api/audio").status_code == 200
    assert kid.delete(f"/api/tokens/{made['id']}").status_code == 404  # not the kid's
    assert mum.delete(f"/api/tokens/{made['id']}").status_code == 204
    r = script.get("/api/audio")
    assert r.status_code == 401 and r.json()["detail"] == "invalid, expired or revoked token"
    assert mum.get("/api/tokens").json() == []
    assert mum.delete(f"/api/tokens/{made['id']}").status_code == 404


def test_a_wrong_or_malformed_token_is_refused(api: Api) -> None:
    mum = api.login(ADMIN)
    made = make(mum, "read")
    forged = made["token"][:-4] + ("AAAA" if not made["token"].endswith("AAAA") else "BBBB")
    for token in (forged, "yss_", "nonsense", f"yss_{made['id']}", "yss_" + "x" * 300):
        assert bearer(api, token).get("/api/audio").status_code == 401, token


def test_bad_token_bodies_are_refused_with_a_reason(api: Api) -> None:
    mum = api.login(ADMIN)
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin"]},
        {"name": " ", "scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "expires_days": 0},
        {"name": "x", "scopes": ["read"], "expires_days": 400},
    ):
        r = mum.post("/api/tokens", json=body)
        assert r.status_code == 422, (body, r.text)
    assert mum.get("/api/tokens").json() == []
    assert api.client().post("/api/tokens", json={"name": "x", "scopes": ["read"]}).status_code == 401


def test_scopes_are_judged_on_the_route_path_behind_a_path_prefix(api: Api) -> None:
    """Behind a proxy that mounts the app under a prefix (root_path), the rules still see /api/..."""
    token = make(api.login(ADMIN), "read")["token"]
    prefixed = TestClient(api.app, base_url="http://127.0.0.1:8000", root_path="/prod")
    api.clients.append(prefixed)
    prefixed.headers["Authorization"] = f"Bearer {token}"
    assert prefixed.get("/prod/api/audio").status_code == 200
    assert prefixed.get("/prod/api/tokens").status_code == 403
    assert prefixed.post("/prod/api/playlists", json={"name": "x"}).status_code == 403
