"""How the app serves the UI's files (no browser): content types, the page
policy on HTML only, revalidation with ETags, nothing outside `app/ui/`, and
the three answers the page asks for before anyone is signed in."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.ui.conftest import ADMIN, Ui, UiServer


def test_files_have_their_types_and_revalidate_with_etags(ui_server: UiServer) -> None:
    with httpx.Client(base_url=ui_server.url, timeout=10) as c:
        page = c.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        refs = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        assert refs and all(not re.match(r"^([a-z]+:)?//", ref) and not ref.startswith("/") for ref in refs), refs
        assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
        for ref in refs:
            r = c.get(f"/{ref}")
            assert r.status_code == 200, ref
        js = c.get("/assets/js/main.js")
        assert js.headers["content-type"] == "text/javascript; charset=utf-8"
        assert js.headers["content-security-policy"].startswith("default-src 'none'")  # not a page
        again = c.get("/assets/js/main.js", headers={"If-None-Match": js.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        # A 304 updates the cached answer's headers: it must not bring a policy of its own.
        page_again = c.get("/", headers={"If-None-Match": page.headers["etag"]})
        assert page_again.status_code == 304 and "content-security-policy" not in page_again.headers
        assert c.get("/assets/js/main.js", headers={"If-None-Match": '"other"'}).status_code == 200
        head = c.head("/assets/app.css")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(c.get("/assets/app.css").content)
        assert c.get("/assets/icons/icon-192.png").headers["cache-control"] == "public, max-age=86400"
        manifest = c.get("/manifest.webmanifest")
        assert manifest.headers["content-type"] == "application/manifest+json"
        icons = {i["sizes"] for i in manifest.json()["icons"]}
        assert {"192x192", "512x512"} <= icons


def test_nothing_outside_the_ui_files_is_served(ui_server: UiServer) -> None:
    with httpx.Client(base_url=ui_server.url, timeout=10) as c:
        for path in (
            "/assets/../routers/ui.py",
            "/assets/%2e%2e/routers/ui.py",
            "/assets/js/..%2F..%2F..%2Fmain.py",
            "/assets/.hidden.js",
            "/assets/js/nothing.js",
            "/assets/icons/icon.txt",
            "/app.css",
        ):
            r = c.get(path)
            assert r.status_code == 404, path
            assert r.json() == {"detail": "Not Found"}, path


def test_the_questions_asked_before_signing_in(ui_server: UiServer) -> None:
    with httpx.Client(base_url=ui_server.url, timeout=10) as c:
        assert c.get("/api/ui/session").json() == {"user": None}
        assert c.get("/api/ui/first-run").json() == {"admin_exists": True}
        features = c.get("/api/ui/features").json()["features"]
        assert features["tts_quota"] is True and features["podcasts"] is True and features["stories"] is True
        creds = {"username": ADMIN[0], "password": ADMIN[1]}
        login = c.post("/api/auth/login", json=creds, headers={"Origin": ui_server.url})
        assert login.status_code == 200
        assert c.get("/api/ui/session").json() == {"user": {"username": ADMIN[0], "is_admin": True}}
        quota = c.get("/api/tts/quota").json()
        assert set(quota) == {"remaining_today", "daily_chars", "max_chars"}
        assert 0 <= quota["remaining_today"] <= quota["daily_chars"]


def test_a_reload_shows_the_page_again(ui: Ui) -> None:
    """The browser revalidates the page (304) on a reload and keeps its cached copy."""
    ui.sign_in(route="cards")
    for _ in range(2):
        ui.page.reload()
        expect(ui.page.get_by_role("heading", level=1, name="Cards")).to_be_visible()
        expect(ui.page.get_by_role("navigation", name="Main").get_by_role("link", name="Library")).to_be_visible()
