"""The pages that need the Yoto cloud, against the simulator and simulated
players over mosquitto: link the account (PKCE redirect and device code),
make a card with icons and see it in the simulator, build a playlist, make
its card, reorder and see the same card change, and drive a player live.

Each test is skipped, saying which API it waits for, while this server does
not have it yet (`/api/ui/features`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.audio_fixtures import write_tone
from tests.ui.conftest import PlayerRig, Ui, UiServer, eventually, new_ui
from tests.ui.conftest import ui_api as _api


def _features(server: UiServer) -> dict[str, bool]:
    return httpx.get(f"{server.url}/api/ui/features", timeout=10).json()["features"]


@pytest.fixture
def needs(ui_server: UiServer) -> Callable[..., None]:
    have = _features(ui_server)

    def check(*names: str) -> None:
        missing = [n for n in names if not have.get(n)]
        if missing:
            pytest.skip(f"waiting for the API: {', '.join(missing)} not on this server yet")

    return check


def _upload(ui: Ui, tmp_path: Path, title: str, freq: float = 440.0) -> dict[str, Any]:
    path = write_tone(tmp_path / f"{uuid.uuid4().hex}.mp3", "mp3", seconds=1, freq=freq)
    files = {"file": {"name": path.name, "mimeType": "audio/mpeg", "buffer": path.read_bytes()}}
    return _api(ui, "POST", "/api/audio", multipart={**files, "title": title})


def _link_through_the_page(ui: Ui) -> None:
    """The PKCE redirect: our login → the simulator's consent (approves by itself) → our callback → the UI."""
    ui.goto("yoto")
    page = ui.page
    unlink = page.get_by_role("button", name="Unlink Yoto account")
    link = page.get_by_role("link", name="Link Yoto account")
    expect(unlink.or_(link)).to_be_visible()
    if unlink.is_visible():
        unlink.click()
        page.get_by_role("dialog").get_by_role("button", name="Unlink").click()
    link.click()
    page.wait_for_url(re.compile(r"#/yoto$"))
    expect(page.get_by_text("Your Yoto account is linked.")).to_be_visible()
    expect(page.get_by_role("button", name="Unlink Yoto account")).to_be_visible()


def test_link_the_yoto_account_through_the_page(ui: Ui, needs: Callable[..., None]) -> None:
    needs("yoto")
    ui.sign_in()
    _link_through_the_page(ui)
    assert _api(ui, "GET", "/api/yoto/status")["linked"] is True


def test_link_with_a_device_code_when_the_redirect_cannot_be_used(
    ui: Ui, ui_server: UiServer, needs: Callable[..., None]
) -> None:
    needs("yoto", "yoto_device_login")
    ui.sign_in()
    _link_through_the_page(ui)
    page = ui.page
    page.get_by_role("button", name="Unlink Yoto account").click()
    page.get_by_role("dialog").get_by_role("button", name="Unlink").click()
    page.get_by_role("button", name="Use a code instead").click()
    code = page.locator(".user-code")
    expect(code).to_have_text(re.compile(r"\S+"))
    expect(page.get_by_role("link", name=re.compile(r"^http"))).to_be_visible()
    ui_server.cloud.approve_device(code.inner_text().strip())
    expect(page.get_by_role("button", name="Unlink Yoto account")).to_be_visible(timeout=20_000)


def test_make_a_card_with_icons_and_see_it_in_the_simulator(
    ui: Ui, ui_server: UiServer, tmp_path: Path, needs: Callable[..., None]
) -> None:
    needs("yoto", "cards", "icons")
    ui.sign_in()
    _link_through_the_page(ui)
    tag = uuid.uuid4().hex[:6]
    owl, moon = f"Owl lullaby {tag}", f"Moon song {tag}"
    _upload(ui, tmp_path, owl)
    _upload(ui, tmp_path, moon, freq=330)
    ui.goto("cards")
    page = ui.page
    page.get_by_label("Card title").fill(f"Bedtime {tag}")
    page.get_by_label("Find audio to add").fill(tag)
    results = page.get_by_role("list", name="Library search results")
    results.get_by_role("button", name=f"Add {owl}").click()
    results.get_by_role("button", name=f"Add {moon}").click()
    tracks = page.get_by_role("list", name="Tracks on the card, in order")
    expect(tracks.get_by_role("listitem").filter(has_text=owl)).to_contain_text("Icon: Owl (suggested)")
    # Reorder before creating (keyboard buttons), then change the first track's icon.
    page.get_by_role("button", name=f"Move {moon} up").click()
    expect(tracks.get_by_role("listitem").first).to_contain_text(moon)
    page.get_by_role("button", name=f"Change icon of {moon}").click()
    picker = page.get_by_role("dialog")
    picker.get_by_label("Search Yoto's icons").fill("star")
    picker.get_by_role("button", name="Use icon Star").click()
    expect(tracks.get_by_role("listitem").first).to_contain_text("Icon: Star")
    page.get_by_role("button", name="Make the card").click()
    expect(page.get_by_role("status").filter(has_text=f"Made “Bedtime {tag}”")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("list", name="The family's cards")).to_contain_text(f"Bedtime {tag}")

    icons = {i["title"]: i["mediaId"] for i in ui_server.cloud.icons()}
    made = [c for c in ui_server.cloud.cards().values() if c.get("title") == f"Bedtime {tag}"]
    assert len(made) == 1
    chapters = made[0]["content"]["chapters"]
    assert [c["title"] for c in chapters] == [moon, owl]
    assert [c["display"]["icon16x16"] for c in chapters] == [f"yoto:#{icons['Star']}", f"yoto:#{icons['Owl']}"]
    assert all(t["type"] == "stream" and "/s/" in t["trackUrl"] for c in chapters for t in c["tracks"])


def test_a_card_kept_in_yotos_storage_shows_its_upload_then_its_mode(
    ui: Ui, ui_server: UiServer, tmp_path: Path, needs: Callable[..., None]
) -> None:
    needs("yoto", "cards")
    ui.sign_in()
    _link_through_the_page(ui)
    ui_server.cloud.configure(transcode_delay_s=2.5)
    tag = uuid.uuid4().hex[:6]
    owl = f"Owl story {tag}"
    _upload(ui, tmp_path, owl, freq=1000 + int(tag, 16) % 800)  # bytes Yoto does not hold yet
    ui.goto("cards")
    page = ui.page
    page.get_by_label("Card title").fill(f"Offline {tag}")
    page.get_by_label("Find audio to add").fill(tag)
    page.get_by_role("list", name="Library search results").get_by_role("button", name=f"Add {owl}").click()
    page.get_by_label("Where the audio lives").select_option("yoto")
    page.get_by_role("button", name="Make the card").click()
    status = page.get_by_role("status")
    expect(status.filter(has_text="Uploading to Yoto: track 1")).to_be_visible(timeout=20_000)
    expect(status.filter(has_text=f"Made “Offline {tag}”")).to_be_visible(timeout=30_000)
    expect(
        page.get_by_role("list", name="The family's cards").get_by_role("listitem").filter(has_text=f"Offline {tag}")
    ).to_contain_text("in Yoto's storage")
    made = [c for c in ui_server.cloud.cards().values() if c.get("title") == f"Offline {tag}"]
    assert len(made) == 1
    (track,) = [t for c in made[0]["content"]["chapters"] for t in c["tracks"]]
    assert track["type"] == "audio" and track["trackUrl"].startswith("yoto:#")
    page.get_by_role("button", name=f"Check Offline {tag}").click()
    doctor = page.get_by_role("dialog")
    expect(doctor).to_contain_text("Every track is as a player needs it.")
    expect(doctor).to_contain_text(f"Chapter 1, track 1 “{owl}”: fine")
    doctor.get_by_role("button", name="Close").click()
    expect(doctor).to_be_hidden()


def test_a_playlist_card_changes_in_place_when_the_playlist_is_reordered(
    ui: Ui, ui_server: UiServer, tmp_path: Path, needs: Callable[..., None]
) -> None:
    needs("yoto", "playlists")
    ui.sign_in()
    _link_through_the_page(ui)
    tag = uuid.uuid4().hex[:6]
    titles = [f"{name} {tag}" for name in ("Rain", "Waves", "Wind")]
    for i, title in enumerate(titles):
        _upload(ui, tmp_path, title, freq=300 + 50 * i)
    ui.goto("playlists")
    page = ui.page
    page.get_by_label("New playlist name").fill(f"Calm {tag}")
    page.get_by_role("button", name="Start playlist").click()
    expect(page.get_by_role("heading", name=f"Calm {tag}")).to_be_visible()
    page.get_by_label("Find audio to add").fill(tag)
    results = page.get_by_role("list", name="Library search results")
    items = page.get_by_role("list", name="Items in order")
    for n, title in enumerate(titles, start=1):
        results.get_by_role("button", name=f"Add {title}").click()
        expect(items.get_by_role("listitem")).to_have_count(n)
    page.get_by_role("button", name="Make its card").click()
    expect(page.get_by_text(re.compile(r"Its card: Yoto card \w+"))).to_be_visible(timeout=20_000)
    card_id = re.search(r"Yoto card (\w+)", page.get_by_text(re.compile(r"Its card: Yoto card")).inner_text()).group(1)

    def chapter_titles() -> list[str]:
        card = ui_server.cloud.card(card_id) or {}
        return [c["title"] for c in card.get("content", {}).get("chapters", [])]

    eventually(lambda: chapter_titles() == titles)
    cards_before = len(ui_server.cloud.cards())
    if ui.width == "laptop":  # drag and drop with the mouse (the list clear of the sticky header)
        items.evaluate("el => el.scrollIntoView({ block: 'center' })")
        items.get_by_role("listitem").nth(2).drag_to(items.get_by_role("listitem").nth(0))
    else:  # the buttons, as a keyboard or screen-reader user would
        page.get_by_role("button", name=f"Move {titles[2]} up").click()
        expect(items.get_by_role("listitem").nth(1)).to_contain_text(titles[2])
        page.get_by_role("button", name=f"Move {titles[2]} up").click()
    expect(items.get_by_role("listitem").first).to_contain_text(titles[2])
    expect(page.get_by_text("The card is up to date with this list.")).to_be_visible(timeout=20_000)
    eventually(lambda: chapter_titles() == [titles[2], titles[0], titles[1]])
    assert len(ui_server.cloud.cards()) == cards_before  # the same card, no new one


@pytest.mark.parametrize("width", ["phone", "laptop"])
def test_drive_a_player_and_follow_it_live(browser: Browser, player_rig: PlayerRig, tmp_path: Path, width: str) -> None:

    sim_player = player_rig.player
    ui = new_ui(browser, player_rig.server.url, width)
    try:
        _drive(ui, sim_player, tmp_path)
    finally:
        ui.page.context.close()
    ui.check()


def _drive(ui: Ui, sim_player: Any, tmp_path: Path) -> None:
    from simulator.players import sample_card

    ui.sign_in()
    item = _upload(ui, tmp_path, f"Story {sim_player.player_id}")
    card = _api(
        ui, "POST", "/api/cards", data={"title": f"Story card {ui.width}", "tracks": [{"audio_id": item["id"]}]}
    )
    sim_player.cards[card["yoto_card_id"]] = sample_card(card["yoto_card_id"], length_s=600)

    ui.goto("players")
    page = ui.page
    name = f"Bedroom {sim_player.player_id[-4:]}"
    panel = page.get_by_role("region", name=f"Player {name}")
    expect(panel).to_be_visible(timeout=20_000)
    expect(panel).to_contain_text("Online")
    expect(panel).to_contain_text("Last heard")
    never_heard = page.get_by_role("region", name=f"Player Shelf {sim_player.player_id[-4:]}")
    expect(never_heard).to_contain_text("Not live")  # Yoto lists it online; nothing came over MQTT
    expect(never_heard).to_contain_text("No live state yet")
    expect(never_heard).to_contain_text("Never")

    panel.get_by_label("Card to play").select_option(label=f"Story card {ui.width}")
    panel.get_by_role("button", name="Play card").click()
    eventually(lambda: sim_player.snapshot()["playback_status"] == "playing")
    expect(panel).to_contain_text(f"Playing: Story card {ui.width}", timeout=20_000)

    panel.get_by_role("button", name=f"Pause {name}").click()
    eventually(lambda: sim_player.snapshot()["playback_status"] == "paused")
    expect(panel).to_contain_text("Paused", timeout=20_000)

    # Someone else turns it down (another phone): the open page follows without a reload.
    _api(ui, "POST", f"/api/players/{sim_player.player_id}/commands", data={"action": "volume", "volume": 25})
    level = eventually(lambda: sim_player.snapshot()["volume"] if sim_player.snapshot()["volume"] != 50 else None)
    expect(panel.get_by_label(f"Volume of {name}")).to_have_value(str(level), timeout=20_000)

    panel.get_by_label("Sleep timer", exact=True).select_option(label="15 minutes")
    panel.get_by_role("button", name=f"Set sleep timer on {name}").click()
    expect(panel.get_by_role("status").filter(has_text="Sleep in 15 minutes: done")).to_be_visible()
    panel.get_by_role("button", name=f"Set night-light colour on {name}").click()
    expect(panel.get_by_role("status").filter(has_text="Night light")).to_contain_text("done")
    panel.get_by_text("Listening in the last 7 days").click()
    expect(panel.locator(".chart-wrap")).not_to_contain_text("Loading", timeout=10_000)


def test_an_admin_keeps_a_player_for_its_owner_from_the_players_page(browser: Browser, player_rig: PlayerRig) -> None:
    sim_player = player_rig.player
    ui = new_ui(browser, player_rig.server.url, "laptop")
    try:
        ui.sign_in()
        ui.goto("players")
        name = f"Bedroom {sim_player.player_id[-4:]}"
        panel = ui.page.get_by_role("region", name=f"Player {name}")
        expect(panel).to_contain_text("On mum's Yoto account", timeout=20_000)
        switch = panel.get_by_role("switch", name=re.compile("Mine only"))
        expect(switch).not_to_be_checked()
        switch.check()
        expect(panel.get_by_role("status").filter(has_text="Only mum and admins see")).to_be_visible()
        expect(panel).to_contain_text("On mum's Yoto account · mine only")
        assert _api(ui, "GET", f"/api/players/{sim_player.player_id}")["private"] is True
        ui.page.reload()
        expect(panel.get_by_role("switch", name=re.compile("Mine only"))).to_be_checked(timeout=20_000)
        panel.get_by_role("switch", name=re.compile("Mine only")).uncheck()
        expect(panel.get_by_role("status").filter(has_text="The whole family sees")).to_be_visible()
        assert _api(ui, "GET", f"/api/players/{sim_player.player_id}")["private"] is False
    finally:
        ui.page.context.close()
    ui.check()


def test_a_playlist_card_opens_day_by_day(
    ui: Ui, ui_server: UiServer, tmp_path: Path, needs: Callable[..., None]
) -> None:
    needs("yoto", "playlists")
    ui.sign_in()
    _link_through_the_page(ui)
    tag = uuid.uuid4().hex[:6]
    ids = [_upload(ui, tmp_path, f"Night {n} {tag}", freq=300 + 40 * n)["id"] for n in range(1, 4)]
    made = _api(ui, "POST", "/api/playlists", data={"name": f"Countdown {tag}", "audio_ids": ids})
    card = _api(ui, "POST", f"/api/playlists/{made['id']}/card")
    ui.goto("playlists")
    page = ui.page
    page.get_by_role("button", name=f"Open Countdown {tag}").click()
    expect(page.get_by_role("heading", name=f"Countdown {tag}")).to_be_visible()
    page.get_by_label("Chapters open").select_option("day")
    page.get_by_label("First day").fill("2026-12-01")
    page.get_by_role("button", name="Save the schedule").click()
    expect(page.get_by_text(re.compile(r"\d of 3 chapters open today"))).to_be_visible(timeout=20_000)

    def opens() -> list[Any]:
        chapters = (ui_server.cloud.card(card["yoto_card_id"]) or {}).get("content", {}).get("chapters", [])
        return [c.get("availableFrom") for c in chapters]

    eventually(lambda: opens() == ["2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z", "2026-12-03T00:00:00.000Z"])
    page.get_by_label("Chapters open").select_option("")
    page.get_by_role("button", name="Save the schedule").click()
    expect(page.get_by_text("Every chapter is open again.")).to_be_visible()
    eventually(lambda: opens() == [None, None, None])
