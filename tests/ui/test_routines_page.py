"""The Routines page in a real browser, at a phone and a laptop width, against
the Yoto simulator and a simulated player over mosquitto (`player_rig`): a
bedtime routine made from its template through the page really plays the
card at volume 30 with the sleep timer on that player when run now, and the
page says how each step went; switching off, a routine made step by step,
editing, refusals (the page's own and the service's 422) and deleting."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, expect

from core.yoto.protocol import volume_from_device, volume_to_device
from tests.audio_fixtures import write_tone
from tests.ui.conftest import PlayerRig, Ui, new_ui
from tests.ui.conftest import ui_api as _api
from tests.ui.test_quality import _nameless_controls, _open_all_details, _tab_through, qa

WIDTHS = ["phone", "laptop"]
NEXT_RUN = re.compile(r"Next: (today|tomorrow|[A-Z][a-z]+day|[A-Z][a-z]{2}, \d+ [A-Z][a-z]{2}) \d\d:\d\d")


@pytest.fixture(params=WIDTHS)
def rig_ui(request: pytest.FixtureRequest, browser: Browser, player_rig: PlayerRig) -> Iterator[Ui]:
    """A signed-in browser at one width on the server that has the simulated player."""
    session = new_ui(browser, player_rig.server.url, request.param)
    session.sign_in(route="routines")
    expect(session.page.get_by_role("heading", level=1, name="Routines")).to_be_visible()
    yield session
    session.page.context.close()
    session.check()


def _card_on_the_player(ui: Ui, sim_player: Any, tmp_path: Path, title: str) -> str:
    """A streaming card made through the API, which the simulated player can play: its Yoto id."""
    from simulator.players import sample_card

    path = write_tone(tmp_path / f"{uuid.uuid4().hex}.mp3", "mp3", seconds=1)
    files = {"file": {"name": path.name, "mimeType": "audio/mpeg", "buffer": path.read_bytes()}}
    item = _api(ui, "POST", "/api/audio", multipart={**files, "title": f"{title} audio"})
    card = _api(ui, "POST", "/api/cards", data={"title": title, "tracks": [{"audio_id": item["id"]}]})
    sim_player.cards[card["yoto_card_id"]] = sample_card(card["yoto_card_id"], length_s=600)
    return card["yoto_card_id"]


def _player_name(rig: PlayerRig) -> str:
    return f"Bedroom {rig.player.player_id[-4:]}"


def _routine(ui: Ui, name: str) -> Locator:
    return ui.page.get_by_role("list", name="The family's routines").get_by_role("listitem").filter(has_text=name)


def _by_name(ui: Ui, name: str) -> dict[str, Any]:
    found = [r for r in _api(ui, "GET", "/api/routines")["items"] if r["name"] == name]
    assert len(found) == 1, found
    return found[0]


def _reload(ui: Ui) -> None:
    """The page drawn again: it reads the cards and players when it opens."""
    ui.goto("library")
    ui.goto("routines")


def test_bedtime_from_the_template_plays_on_the_player_then_off_and_deleted(
    rig_ui: Ui, player_rig: PlayerRig, tmp_path: Path
) -> None:
    ui, page, sim = rig_ui, rig_ui.page, player_rig.player
    tag = uuid.uuid4().hex[:6]
    card_title, name = f"Story {tag}", f"Bedtime {tag}"
    card_id = _card_on_the_player(ui, sim, tmp_path, card_title)
    _reload(ui)
    expect(page.get_by_text("Times are on the family's clock: UTC.")).to_be_visible()

    form = page.get_by_role("region", name="Start from a template")
    expect(form.get_by_role("button", name="Bedtime")).to_have_attribute("aria-pressed", "true")
    expect(form).to_contain_text("Steps: Night light dim and warm · Volume 30 % · Play the card you choose")
    form.get_by_label("Player").select_option(label=_player_name(player_rig))
    form.get_by_label("Card to play").select_option(label=card_title)
    form.get_by_label("Time", exact=True).fill("1930")
    form.get_by_role("button", name="School nights").click()
    for day in ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday"):
        expect(form.get_by_label(day)).to_be_checked()
    expect(form.get_by_label("Friday")).not_to_be_checked()
    form.get_by_label("Name (optional)").fill(name)
    form.get_by_role("button", name="Add routine").click()
    expect(form.get_by_role("status")).to_contain_text(f"Added “{name}”: 19:30 on Sun–Thu")

    item = _routine(ui, name)
    expect(item).to_contain_text(f"{_player_name(player_rig)} · 19:30 on Sun–Thu")
    expect(item).to_contain_text(NEXT_RUN)
    expect(item).to_contain_text(f"Play “{card_title}”")
    made = _by_name(ui, name)
    assert made["steps"][2] == {"action": "play", "card_id": card_id} and made["next_run_at"]

    item.get_by_role("button", name=f"Run {name} now").click()
    said = item.get_by_role("status")
    expect(said).to_contain_text("All steps done.", timeout=30_000)
    done = ["Night light dim and warm", "Volume 30 %", f"Play “{card_title}”", "Sleep timer 30 min"]
    expect(said).to_contain_text("; ".join(f"{step}: done" for step in done))
    state = sim.snapshot()
    assert state["card_id"] == card_id and state["playback_status"] == "playing"
    assert state["volume"] == volume_from_device(volume_to_device(30), state["volume_max"])
    assert 0 < state["sleep_timer_s"] <= 30 * 60

    item.get_by_text("Last runs").click()
    expect(item.locator(".rt-runs")).to_contain_text("run by hand: all steps done")

    switch = item.get_by_role("switch", name=f"{name} on schedule")
    expect(switch).to_be_checked()
    switch.click()
    expect(said).to_contain_text("Off: it will not run")
    expect(switch).not_to_be_checked()
    expect(item).to_contain_text("Switched off: it will not run.")
    off = _api(ui, "GET", f"/api/routines/{made['id']}")
    assert off["enabled"] is False and off["next_run_at"] is None

    item.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete routine").click()
    expect(item).to_have_count(0)
    assert all(r["id"] != made["id"] for r in _api(ui, "GET", "/api/routines")["items"])


def test_make_your_own_with_refusals_then_edit_it(rig_ui: Ui, player_rig: PlayerRig) -> None:
    ui, page = rig_ui, rig_ui.page
    tag = uuid.uuid4().hex[:6]
    name = f"Lights out {tag}"

    # The page's own checks: no day chosen, bedtime without a card.
    form = page.get_by_role("region", name="Start from a template")
    form.get_by_label("Player").select_option(label=_player_name(player_rig))
    form.get_by_label("Time", exact=True).fill("19:00")
    form.get_by_role("button", name="Add routine").click()
    expect(form.get_by_role("status")).to_have_text("Choose the card bedtime plays.")
    form.get_by_role("button", name="Quiet time").click()
    expect(form.get_by_role("button", name="Quiet time")).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_label("Card to play")).to_be_hidden()
    form.get_by_role("button", name="Add routine").click()
    expect(form.get_by_role("status")).to_have_text("Choose at least one day.")
    expect(form.get_by_label("Monday")).to_be_focused()

    own = page.get_by_role("region", name="Make your own")
    own.get_by_label("Name", exact=True).fill(name)
    own.get_by_label("Player").select_option(label=_player_name(player_rig))
    own.get_by_label("Time", exact=True).fill("7:15")
    own.get_by_label("Monday").check()
    own.get_by_label("Wednesday").check()
    # What the service refuses is said in words where it happened (a 422 on purpose).
    ui.allow(422)
    own.get_by_label("Add a step").select_option(label="Volume")
    own.get_by_label("Volume (%)").fill("150")
    own.get_by_role("button", name="Add step").click()
    own.get_by_role("button", name="Save routine").click()
    refused = "Not saved: step 1, volume: Input should be less than or equal to 100"
    expect(own.get_by_role("status")).to_contain_text(refused)
    assert all(r["name"] != name for r in _api(ui, "GET", "/api/routines")["items"])

    own.get_by_role("button", name="Remove Step 1: Volume 150 %").click()
    own.get_by_label("Volume (%)").fill("20")
    own.get_by_role("button", name="Add step").click()
    own.get_by_label("Add a step").select_option(label="Stop playing")
    own.get_by_role("button", name="Add step").click()
    steps = own.get_by_role("list", name="Steps in order")
    expect(steps.get_by_role("listitem")).to_contain_text(["Step 1: Volume 20 %", "Step 2: Stop playing"])
    own.get_by_role("button", name="Move Step 2: Stop playing up").click()
    expect(steps.get_by_role("listitem")).to_contain_text(["Step 1: Stop playing", "Step 2: Volume 20 %"])
    own.get_by_role("button", name="Save routine").click()
    expect(own.get_by_role("status")).to_contain_text(f"Saved “{name}”: 07:15 on Mon, Wed")

    item = _routine(ui, name)
    expect(item).to_contain_text("07:15 on Mon, Wed")
    expect(item).to_contain_text("Steps: Stop playing · Volume 20 %")
    expect(item).to_contain_text(NEXT_RUN)
    made = _by_name(ui, name)
    assert made["steps"] == [{"action": "stop"}, {"action": "volume", "volume": 20}]

    item.get_by_role("button", name=f"Edit {name}").click()
    expect(page.get_by_role("heading", name=f"Edit “{name}”")).to_be_visible()
    edit = page.get_by_role("region", name=f"Edit “{name}”")
    expect(edit.get_by_label("Time", exact=True)).to_have_value("07:15")
    edit.get_by_label("Time", exact=True).fill("20:05")
    edit.get_by_label("Friday").check()
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("region", name="Make your own").get_by_role("status")).to_contain_text(
        f"Saved changes to “{name}”: 20:05 on Mon, Wed, Fri"
    )
    expect(item).to_contain_text("20:05 on Mon, Wed, Fri")
    changed = _api(ui, "GET", f"/api/routines/{made['id']}")
    assert changed["at"] == "20:05" and changed["days"] == ["mon", "wed", "fri"]
    assert changed["steps"] == made["steps"] and changed["enabled"] is True

    item.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete routine").click()
    expect(item).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_filled_page_meets_the_quality_bars(browser: Browser, player_rig: PlayerRig, scheme: str) -> None:
    """test_quality.py sees this page with no player and no routine; here its rows,
    their switches, the last runs and a half-built routine are checked too, with
    a routine whose player the account does not have (said plainly)."""
    tag = uuid.uuid4().hex[:6]
    for width in ("phone", "laptop"):
        ui = new_ui(browser, player_rig.server.url, width, color_scheme=scheme)
        try:
            ui.sign_in(route="routines")
            page = ui.page
            body = {"name": f"Landing {tag} {width}", "player_id": "nobody-here", "at": "06:45", "days": ["sat"]}
            _api(ui, "POST", "/api/routines", data={**body, "steps": [{"action": "stop"}]})
            ui.goto("library")
            ui.goto("routines")
            item = _routine(ui, f"Landing {tag} {width}")
            expect(item).to_contain_text("Its player is not found in the linked Yoto account")
            expect(item).to_contain_text("Player nobody-here (not found) · 06:45 on Sat")
            own = page.get_by_role("region", name="Make your own")
            own.get_by_label("Add a step").select_option(label="Volume")
            own.get_by_role("button", name="Add step").click()
            own.get_by_role("button", name="Add step").click()
            page.wait_for_load_state("networkidle")
            found = _nameless_controls(page) + qa(page, "lowContrast")
            if width == "phone":
                found += [f"small touch target: {t}" for t in qa(page, "smallTargets")]
            _open_all_details(page)
            expect(item.locator(".rt-runs")).to_contain_text("It has not run yet.")
            found += _tab_through(page) + _nameless_controls(page) + qa(page, "lowContrast")
            assert not found, f"{width}/{scheme}: {found}"
        finally:
            ui.page.context.close()
        ui.check()
