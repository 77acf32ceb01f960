"""Account page: personal access tokens. One is made with a name and scopes, its
secret shown once and working as a bearer token with those scopes, listed without
it after a reload, and revoked from the list (refused from the next request)."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.ui.conftest import Ui


def test_a_token_is_made_shown_once_works_and_is_revoked(ui: Ui) -> None:
    ui.sign_in(route="account")
    page = ui.page
    name = f"script-{ui.width}"

    page.get_by_role("button", name="Make token").click()
    expect(page.get_by_role("status").filter(has_text="Give the token a name")).to_be_visible()
    page.get_by_label("Token name").fill(name)
    page.get_by_label("Change the library, cards and playlists").check()
    page.get_by_role("button", name="Make token").click()
    expect(page.get_by_role("status").filter(has_text=f"Made “{name}”")).to_be_visible()
    shown = page.get_by_label(f"The token “{name}”")
    secret = shown.input_value()
    assert secret.startswith("yss_")

    tokens = page.get_by_role("list", name="Your tokens")
    row = tokens.get_by_role("listitem").filter(has_text=name)
    expect(row).to_contain_text("read")
    expect(row).to_contain_text("cards")

    with httpx.Client(base_url=ui.base, headers={"Authorization": f"Bearer {secret}"}, timeout=30) as script:
        assert script.get("/api/audio").status_code == 200
        r = script.post("/api/playlists", json={"name": f"made by {name}"})
        assert r.status_code == 201, r.text
        assert script.post("/api/players/p1/commands", json={"action": "pause"}).status_code == 403  # not ticked

        page.reload()
        expect(row).to_be_visible()
        expect(page.get_by_label(f"The token “{name}”")).to_have_count(0)
        assert secret not in page.content()

        row.get_by_role("button", name=f"Revoke {name}").click()
        page.get_by_role("dialog").get_by_role("button", name="Revoke token").click()
        expect(page.get_by_role("status").filter(has_text=f"Revoked “{name}”")).to_be_visible()
        expect(tokens.get_by_role("listitem").filter(has_text=name)).to_have_count(0)
        assert script.get("/api/audio").status_code == 401
