"""The quality bars on every page: accessible names (as Chromium's own
accessibility tree computes them), keyboard order (Tab reaches every control
in document order, with a visible focus, and leaves the page again: no
trap), touch targets of at least 44 px on the phone, WCAG AA text contrast in
the light and the dark scheme; and the first load of the library page: bytes
of HTML/JS/CSS transferred and layout shift once the data is in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import ADMIN, Ui, UiServer, new_ui

PAGES = ["library", "cards", "playlists", "players", "podcasts", "routines", "stories", "yoto", "family", "account"]
INTERACTIVE_ROLES = {
    "button",
    "link",
    "textbox",
    "searchbox",
    "combobox",
    "listbox",
    "checkbox",
    "radio",
    "slider",
    "spinbutton",
    "switch",
    "tab",
    "menuitem",
    "option",
}
FIRST_LOAD_BUDGET = 100_000

CHECKS_JS = (Path(__file__).with_name("checks.js")).read_text()


def qa(page: Page, check: str) -> Any:
    """Run one of the page-side checks of checks.js."""
    return page.evaluate(f"{CHECKS_JS}\n;window.__qa.{check}()")


def _nameless_controls(page: Page) -> list[str]:
    cdp = page.context.new_cdp_session(page)
    try:
        tree = cdp.send("Accessibility.getFullAXTree")
    finally:
        cdp.detach()
    missing = []
    for node in tree["nodes"]:
        role = (node.get("role") or {}).get("value")
        if node.get("ignored") or role not in INTERACTIVE_ROLES:
            continue
        name = ((node.get("name") or {}).get("value") or "").strip()
        if not name:
            missing.append(f"{role} without a name (backend node {node.get('backendDOMNodeId')})")
    return missing


def _tab_through(page: Page) -> list[str]:
    """Problems with Tab order on the current page (empty when fine)."""
    expected = qa(page, "tabbable")
    # Start where a fresh page starts: before the first element of the body.
    page.evaluate(
        """() => { const start = document.createElement('span'); start.id = 'qa-start'; start.tabIndex = -1;
                   document.body.prepend(start); start.focus(); }"""
    )
    reached: list[str] = []
    problems = []
    for _ in range(len(expected) + 3):
        page.keyboard.press("Tab")
        info = qa(page, "focused")
        if info is None:
            break  # left the page: no trap
        if not info["ring"]:
            problems.append(f"no visible focus on {info['tag']} {info['text']!r}")
        if info["qa"] is None:
            problems.append(f"Tab reached an element outside the expected set: {info['tag']} {info['text']!r}")
            continue
        if info["qa"] in reached:
            break  # wrapped around
        reached.append(info["qa"])
    page.evaluate("() => document.getElementById('qa-start').remove()")
    if reached != expected:
        problems.append(f"Tab order {reached} differs from document order {expected}")
    return problems


def _open_all_details(page: Page) -> None:
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")


def _seed_library(ui: Ui) -> None:
    """One item in the library, so its rows (and their buttons) are checked too."""
    ui.page.evaluate(
        """async () => {
            const r = await fetch('api/audio/tts', { method: 'POST', headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ title: 'Checked by the a11y test', text: 'Hello.' }) });
            if (!r.ok) throw new Error('seeding failed: ' + r.status);
        }"""
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_names_its_controls_orders_the_keyboard_and_meets_contrast(
    browser: Browser, ui_server: UiServer, scheme: str
) -> None:
    for width in ("phone", "laptop"):
        ui = new_ui(browser, ui_server.url, width, color_scheme=scheme)
        try:
            page = ui.page
            page.goto(ui.url())
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            problems = {"sign in": _nameless_controls(page) + _tab_through(page) + qa(page, "lowContrast")}
            ui.sign_in()
            _seed_library(ui)
            for route in PAGES:
                ui.goto(route)
                page.wait_for_load_state("networkidle")
                found = _nameless_controls(page) + qa(page, "lowContrast")
                if width == "phone":
                    found += [f"small touch target: {t}" for t in qa(page, "smallTargets")]
                _open_all_details(page)
                found += _tab_through(page) + _nameless_controls(page)
                problems[route] = found
            bad = {route: found for route, found in problems.items() if found}
            assert not bad, f"{width}/{scheme}: " + json.dumps(bad, indent=1)
        finally:
            ui.page.context.close()
        ui.check()


@pytest.mark.parametrize("width", ["phone", "laptop"])
def test_first_library_load_is_small_and_does_not_shift(browser: Browser, ui_server: UiServer, width: str) -> None:
    """Signed in already (the cookie is set through the API), a cold cache, a
    library with something in it: what the browser fetches for the library
    page, and how far anything moves once the data is in."""
    ui = new_ui(browser, ui_server.url, width)
    try:
        request = ui.page.context.request
        origin = {"Origin": ui.base}
        login = {"username": ADMIN[0], "password": ADMIN[1]}
        answer = request.post(f"{ui.base}/api/auth/login", data=login, headers=origin)
        assert answer.ok, answer.text()
        speech = {"title": f"Shift check {width}", "text": "Hi."}
        made = request.post(f"{ui.base}/api/audio/tts", data=speech, headers=origin)
        assert made.ok, made.text()
        ui.page.add_init_script(f"{CHECKS_JS}\n;window.__qa.watchShifts()")
        ui.page.goto(ui.url("library"))
        expect(ui.page.get_by_role("list", name="Audio in the library")).to_have_attribute("aria-busy", "false")
        ui.page.wait_for_load_state("networkidle")
        ui.page.wait_for_timeout(300)
        timing: dict[str, Any] = qa(ui.page, "firstLoad")
    finally:
        ui.page.context.close()
    ui.check()
    total = timing["html"] + sum(size for _, size in timing["files"])
    count = 1 + len(timing["files"])
    print(f"\nfirst library load ({width}): {total} bytes of HTML/JS/CSS transferred in {count} files;")
    print(f"layout shift after load: {timing['cls']:.4f}")
    for name, size in timing["files"]:
        print(f"  {size:6d}  {name}")
    assert all(size > 0 for _, size in timing["files"]), "a file came from a cache: the measure is not a first load"
    assert total < FIRST_LOAD_BUDGET
    assert timing["cls"] < 0.01
