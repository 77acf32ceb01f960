"""Admin-only user management, on both adapter sets."""

from __future__ import annotations

from tests.api.conftest import ADMIN, MEMBER, Api

NEW = ("grandma", "knitting needles forever")


def test_admin_manages_users(api: Api) -> None:
    admin = api.login(ADMIN)
    names = [u["username"] for u in admin.get("/api/users").json()]
    assert names == sorted([ADMIN[0], MEMBER[0]])

    r = admin.post("/api/users", json={"username": NEW[0], "password": NEW[1], "is_admin": False})
    assert r.status_code == 201
    assert r.json()["username"] == NEW[0] and r.json()["is_admin"] is False and r.json()["disabled"] is False
    grandma = api.login(NEW)
    assert grandma.get("/api/auth/me").json() == {"username": NEW[0], "is_admin": False}

    assert admin.post("/api/users", json={"username": NEW[0], "password": NEW[1]}).status_code == 409
    r = admin.post("/api/users", json={"username": "shorty", "password": "short"})
    assert r.status_code == 422
    assert "12" in r.json()["detail"]

    r = admin.patch(f"/api/users/{NEW[0]}", json={"is_admin": True})
    assert r.status_code == 200 and r.json()["is_admin"] is True
    assert grandma.get("/api/auth/me").json()["is_admin"] is True

    r = admin.patch(f"/api/users/{NEW[0]}", json={"password": "a brand new passphrase"})
    assert r.status_code == 200
    assert api.client().post("/api/auth/login", json={"username": NEW[0], "password": NEW[1]}).status_code == 401
    api.login((NEW[0], "a brand new passphrase"))

    assert admin.delete(f"/api/users/{NEW[0]}").status_code == 204
    assert admin.get(f"/api/users/{NEW[0]}").status_code == 404
    assert grandma.get("/api/auth/me").status_code == 401  # sessions went with the user
    assert admin.delete("/api/users/nobody").status_code == 404
    assert admin.patch("/api/users/nobody", json={"disabled": True}).status_code == 404


def test_members_get_403_on_admin_routes(api: Api) -> None:
    kid = api.login(MEMBER)
    for method, path, body in (
        ("GET", "/api/users", None),
        ("POST", "/api/users", {"username": "friend", "password": "a long enough password"}),
        ("PATCH", f"/api/users/{MEMBER[0]}", {"is_admin": True}),
        ("PATCH", f"/api/users/{ADMIN[0]}", {"disabled": True}),
        ("DELETE", f"/api/users/{ADMIN[0]}", None),
    ):
        r = kid.request(method, path, json=body)
        assert r.status_code == 403, (method, path)
        assert r.json()["detail"]
    assert api.adapters.identity.get_user(MEMBER[0]).is_admin is False
    assert api.adapters.identity.get_user(ADMIN[0]).disabled is False
    assert api.client().get("/api/users").status_code == 401


def test_disabling_a_user_revokes_their_sessions(api: Api) -> None:
    admin = api.login(ADMIN)
    kid_phone, kid_tablet = api.login(MEMBER), api.login(MEMBER)
    r = admin.patch(f"/api/users/{MEMBER[0]}", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert kid_phone.get("/api/auth/me").status_code == 401
    assert kid_tablet.get("/api/auth/me").status_code == 401
    login = api.client(address="10.9.9.9").post("/api/auth/login", json={"username": MEMBER[0], "password": MEMBER[1]})
    assert login.status_code == 401
    assert admin.patch(f"/api/users/{MEMBER[0]}", json={"disabled": False}).status_code == 200
    assert api.login(MEMBER, address="10.9.9.8").get("/api/auth/me").status_code == 200


def test_the_last_admin_cannot_remove_themselves(api: Api) -> None:
    admin = api.login(ADMIN)
    for method, body in (("PATCH", {"is_admin": False}), ("PATCH", {"disabled": True}), ("DELETE", None)):
        r = admin.request(method, f"/api/users/{ADMIN[0]}", json=body)
        assert r.status_code == 409, (method, body)
        assert "last admin" in r.json()["detail"]
    me = api.adapters.identity.get_user(ADMIN[0])
    assert me.is_admin and not me.disabled
    # With a second admin the first may step down.
    assert admin.patch(f"/api/users/{MEMBER[0]}", json={"is_admin": True}).status_code == 200
    assert admin.patch(f"/api/users/{ADMIN[0]}", json={"is_admin": False}).status_code == 200
    assert admin.get("/api/users").status_code == 403
