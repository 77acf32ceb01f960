"""Family page (admins): add a member who can then sign in, disable them,
reset their password, delete them; members do not see the page."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.ui.conftest import Ui, UiServer, new_ui


def test_add_disable_reset_and_delete_a_member(ui: Ui, browser: Browser, ui_server: UiServer) -> None:
    ui.sign_in(route="family")
    page = ui.page
    name = f"kid-{ui.width}"
    first, second = "first-password-long", "second-password-long"

    page.get_by_label("New member's username").fill(name)
    page.get_by_label("Their password").fill("short")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status").filter(has_text="at least 12 characters")).to_be_visible()
    page.get_by_label("Their password").fill(first)
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status").filter(has_text=f"Added {name}")).to_be_visible()
    members = page.get_by_role("list", name="Family members")
    row = members.get_by_role("listitem").filter(has_text=name)
    expect(row).to_contain_text("Member")
    expect(row).to_contain_text("Active")

    # The new member signs in elsewhere and has no Family page.
    kid = new_ui(browser, ui.base, ui.width)
    try:
        kid.sign_in(name, first)
        expect(kid.page.get_by_role("link", name="Library")).to_be_visible()
        expect(kid.page.get_by_role("navigation", name="Main").get_by_role("link", name="Family")).to_have_count(0)
    finally:
        kid.page.context.close()
    kid.check()

    page.get_by_role("button", name=f"Disable {name}").click()
    expect(row).to_contain_text("Disabled")
    page.get_by_role("button", name=f"Enable {name}").click()
    expect(row).to_contain_text("Active")

    page.get_by_role("button", name=f"Reset password of {name}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(f"New password for {name}").fill(second)
    dialog.get_by_role("button", name="Set password").click()
    expect(row.get_by_role("status")).to_have_text(re.compile("Password changed"))

    again = new_ui(browser, ui.base, ui.width)
    try:
        again.sign_in(name, second)
    finally:
        again.page.context.close()
    again.check()

    page.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete member").click()
    expect(members.get_by_role("listitem").filter(has_text=name)).to_have_count(0)
