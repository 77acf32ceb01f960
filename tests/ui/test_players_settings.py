"""The Players page's Settings, Alarms and Rules sections in a real browser, at a
phone and a laptop width, against the service linked to the Yoto simulator:
settings read, changed (only what changed is sent) and read back from the API
and from the simulator's config, a refusal shown with the server's reason; an
alarm added, switched off, changed and deleted beside one made in the Yoto app;
a Mini offers no night-light colour; the page checks pass with the sections open;
and a sleep at the end of the track, chosen on the page, pauses a simulated player
(over mosquitto, seen by the in-process listener) as the next track starts."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Request, expect

from core.yoto.protocol import volume_from_device, volume_to_device
from tests.audio_fixtures import write_tone
from tests.ui.conftest import Ui, UiServer, eventually, linked_admin, new_ui, serve_ui
from tests.ui.conftest import ui_api as _api
from tests.ui.test_quality import CHECKS_JS, FIRST_LOAD_BUDGET, _nameless_controls, _tab_through, qa

WIDTHS = ["phone", "laptop"]
TESTS = ("settings", "alarms", "mini", "rules", "checks", "sleep", "announce")
SIMULATED = ("sleep", "announce")  # a simulated player over mosquitto, reading the cloud's cards


@dataclass
class Rig:
    server: UiServer
    names: dict[str, str]  # (test, width) key "test-width" -> the player's name
    ids: dict[str, str]
    sims: dict[str, Any]

    def player(self, test: str, width: str) -> tuple[str, str]:
        key = f"{test}-{width}"
        return self.ids[key], self.names[key]

    def sim(self, test: str, width: str) -> Any:
        return self.sims[f"{test}-{width}"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, ui_server: UiServer) -> Iterator[Rig]:
    """A server of its own whose admin's Yoto account is linked, with a player per test and
    width in the simulator (a Mini for the Mini's test) before it first lists them; those of
    SIMULATED are simulated players too, started first so the in-process listener hears them."""
    from simulator.players import PlayerSpec, start_players

    features = httpx.get(f"{ui_server.url}/api/ui/features", timeout=10).json()["features"]
    if not {"yoto", "cards", "players"} <= {k for k, v in features.items() if v}:
        pytest.skip("waiting for the API: yoto, cards and players not all on this server yet")
    cloud = ui_server.cloud
    tag = uuid.uuid4().hex[:4]
    ids, names = {}, {}
    for test in TESTS:
        for width in WIDTHS:
            key = f"{test}-{width}"
            ids[key] = f"ps-{key}-{tag}"
            names[key] = f"{'Mini' if test == 'mini' else 'Nursery'} {test} {width} {tag}"
            cloud.add_device(ids[key], names[key], device_type="mini" if test == "mini" else "v3")
    specs = [PlayerSpec(ids[f"{t}-{w}"], cloud=cloud) for t in SIMULATED for w in WIDTHS]
    root = tmp_path_factory.mktemp("ui-settings")
    with (
        start_players(ui_server.broker.config("tcp"), specs) as fleet,
        serve_ui(root, cloud, ui_server.broker, prepare=linked_admin(cloud)) as server,
    ):
        yield Rig(server, names, ids, {key: fleet[ids[key]] for key in ids if key.split("-")[0] in SIMULATED})


@pytest.fixture(params=WIDTHS)
def width(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ui(browser: Browser, rig: Rig, width: str) -> Iterator[Ui]:
    session = new_ui(browser, rig.server.url, width)
    yield session
    session.page.context.close()
    session.check()


def _panel(ui: Ui, name: str) -> Locator:
    panel = ui.page.get_by_role("region", name=f"Player {name}")
    expect(panel).to_be_visible(timeout=20_000)
    return panel


def _open(panel: Locator, section: str) -> None:
    """Open one section of a player's panel and wait until it has read the API."""
    panel.locator("summary").filter(has_text=re.compile(f"^{section}$")).click()
    expect(panel.locator("details[open]").get_by_text("Opening…")).to_have_count(0, timeout=15_000)


def _body(request: Request) -> dict[str, Any]:
    return json.loads(request.post_data or "{}")


def _values(panel: Locator) -> dict[str, str]:
    """What the Settings form shows, by label."""
    labels = [
        "Day starts at",
        "Night starts at",
        "Maximum volume by day",
        "Maximum volume at night",
        "Screen brightness by day",
        "Screen brightness at night",
        "Night-light colour by day",
        "Night-light colour at night",
        "Clock face",
        "Clock",
        "Switch off when left alone for",
    ]
    return {label: panel.get_by_label(label, exact=True).input_value() for label in labels}


def test_settings_are_read_changed_and_read_back(ui: Ui, rig: Rig, width: str) -> None:
    player_id, name = rig.player("settings", width)
    ui.sign_in(route="players")
    before = _api(ui, "GET", f"/api/players/{player_id}/settings")
    config = rig.server.cloud.device_config(player_id)
    assert before["day_starts"] == config["dayTime"]
    panel = _panel(ui, name)
    _open(panel, "Settings")
    shown = _values(panel)
    assert shown["Day starts at"] == before["day_starts"] and shown["Night starts at"] == before["night_starts"]
    assert shown["Maximum volume at night"] == str(before["night_max_volume"])
    assert shown["Screen brightness by day"] == str(before["day_brightness"])
    assert shown["Night-light colour at night"] == before["night_ambient"]
    assert shown["Clock"] == str(before["hour_format"]) and shown["Clock face"] == before["clock_face"]
    expect(panel.get_by_role("switch", name="Bluetooth", exact=True)).to_be_checked(checked=before["bluetooth"])
    expect(panel).to_contain_text("Yoto Player (3rd generation).")

    panel.get_by_label("Day starts at").fill("6:45")  # typed loosely: sent as 06:45
    panel.get_by_label("Maximum volume at night").fill("50")
    panel.get_by_label("Screen brightness by day").select_option("40")
    panel.get_by_label("Night-light colour at night").fill("#ff8800")
    panel.get_by_label("Clock", exact=True).select_option("12")
    panel.get_by_label("Switch off when left alone for").select_option(label="30 minutes")
    bluetooth = panel.get_by_role("switch", name="Bluetooth", exact=True)
    bluetooth.set_checked(not before["bluetooth"])
    panel.get_by_role("switch", name=re.compile("^Repeat all")).set_checked(not before["repeat_all"])
    # touched and put back: not a change, so not sent
    panel.get_by_label("Night starts at").fill("23:59")
    panel.get_by_label("Night starts at").fill(before["night_starts"])
    with ui.page.expect_request(lambda r: r.method == "PATCH" and r.url.endswith("/settings")) as sent:
        panel.get_by_role("button", name=f"Save settings of {name}").click()
    wanted = {
        "day_starts": "06:45",
        "night_max_volume": 50,
        "day_brightness": 40,
        "night_ambient": "#ff8800",
        "hour_format": 12,
        "shutdown_timeout_s": 1800,
        "bluetooth": not before["bluetooth"],
        "repeat_all": not before["repeat_all"],
    }
    assert _body(sent.value) == wanted
    expect(panel.get_by_role("status").filter(has_text=f"Saved on {name}:")).to_contain_text(
        "maximum volume at night 50%"
    )

    after = _api(ui, "GET", f"/api/players/{player_id}/settings")
    assert {k: after[k] for k in wanted} == {**wanted, "night_max_volume": volume_from_device(volume_to_device(50))}
    assert {k: v for k, v in after.items() if k not in wanted} == {k: v for k, v in before.items() if k not in wanted}
    config = rig.server.cloud.device_config(player_id)
    assert (config["dayTime"], config["hourFormat"], config["shutdownTimeout"]) == ("06:45", "12", "1800")
    assert config["nightMaxVolumeLimit"] == str(volume_to_device(50))
    assert (config["dayDisplayBrightness"], config["nightAmbientColour"]) == ("40", "#ff8800")

    # The page drawn again reads the same from the service.
    ui.page.reload()
    panel = _panel(ui, name)
    _open(panel, "Settings")
    shown = _values(panel)
    assert (shown["Day starts at"], shown["Clock"], shown["Screen brightness by day"]) == ("06:45", "12", "40")
    assert shown["Maximum volume at night"] == str(after["night_max_volume"])
    assert shown["Switch off when left alone for"] == "1800"
    expect(panel.get_by_role("switch", name="Bluetooth", exact=True)).to_be_checked(checked=after["bluetooth"])

    # Nothing changed: nothing sent. A value the service refuses: its reason, and nothing written.
    panel.get_by_role("button", name=f"Save settings of {name}").click()
    expect(panel.get_by_role("status").filter(has_text="Nothing changed.")).to_be_visible()
    ui.allow(422)
    panel.get_by_label("Clock face").fill("my face!")
    panel.get_by_role("button", name=f"Save settings of {name}").click()
    refusal = panel.get_by_role("status").filter(has_text="Not saved:")
    expect(refusal).to_contain_text("clock_face")
    assert rig.server.cloud.device_config(player_id)["clockFace"] == before["clock_face"]


def test_a_mini_offers_no_night_light(ui: Ui, rig: Rig, width: str) -> None:
    player_id, name = rig.player("mini", width)
    ui.sign_in(route="players")
    settings = _api(ui, "GET", f"/api/players/{player_id}/settings")
    assert settings["model"] == "mini" and "night_ambient" not in settings["supported"]
    panel = _panel(ui, name)
    _open(panel, "Settings")
    expect(panel).to_contain_text("Yoto Mini. It has no night-light colour by day, night-light colour at night")
    expect(panel.get_by_label("Night-light colour by day")).to_be_hidden()
    expect(panel.get_by_label("Night-light colour at night")).to_be_hidden()
    expect(panel.get_by_label("Maximum volume at night")).to_be_visible()
    # no light sensor: "automatic" brightness is not offered (the Mini's config holds a number)
    options = panel.get_by_label("Screen brightness at night").locator("option").all_inner_texts()
    assert "automatic" not in options and "100%" in options
    panel.get_by_label("Maximum volume by day").fill("75")
    with ui.page.expect_request(lambda r: r.method == "PATCH" and r.url.endswith("/settings")) as sent:
        panel.get_by_role("button", name=f"Save settings of {name}").click()
    assert _body(sent.value) == {"day_max_volume": 75}
    expect(panel.get_by_role("status").filter(has_text=f"Saved on {name}:")).to_be_visible()
    config = rig.server.cloud.device_config(player_id)
    assert config["maxVolumeLimit"] == str(volume_to_device(75))


def _card(ui: Ui, tmp_path: Path, title: str) -> str:
    """One of the family's cards, made through the API: its Yoto card id."""
    path = write_tone(tmp_path / f"{uuid.uuid4().hex}.mp3", "mp3", seconds=1)
    files = {"file": {"name": path.name, "mimeType": "audio/mpeg", "buffer": path.read_bytes()}}
    item = _api(ui, "POST", "/api/audio", multipart={**files, "title": f"{title} audio"})
    card = _api(ui, "POST", "/api/cards", data={"title": title, "tracks": [{"audio_id": item["id"]}]})
    return str(card["yoto_card_id"])


def test_alarms_are_added_switched_changed_and_deleted(ui: Ui, rig: Rig, width: str, tmp_path: Path) -> None:
    player_id, name = rig.player("alarms", width)
    cloud = rig.server.cloud
    app_alarm = "1111100,0700,5WsQg,,,8"  # made in the Yoto app: weekdays at 07:00, a built-in sound
    cloud.add_app_alarm(player_id, app_alarm)
    ui.sign_in()
    title = f"Wake-up song {width}"
    card_id = _card(ui, tmp_path, title)
    ui.goto("players")  # the page reads the family's cards as it opens
    panel = _panel(ui, name)
    _open(panel, "Alarms")
    listed = panel.get_by_role("list", name=f"Alarms on {name}").get_by_role("listitem")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("07:00 weekdays")
    expect(listed.first).to_contain_text(f"Volume {volume_from_device(8)}% · sound 5WsQg")

    form = panel.get_by_role("form", name=f"New alarm on {name}")
    for day in ("Monday", "Wednesday", "Friday"):
        form.get_by_role("button", name=day).click()
    expect(form.get_by_role("button", name="Wednesday")).to_have_attribute("aria-pressed", "true")
    form.get_by_label("Alarm time").fill("0630")
    form.get_by_label("Alarm volume").fill("40")
    form.get_by_label("What plays").select_option(label=title)
    with ui.page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/alarms")) as sent:
        form.get_by_role("button", name="Add alarm").click()
    assert _body(sent.value) == {
        "days": ["mon", "wed", "fri"],
        "time": "06:30",
        "volume": 40,
        "card_id": card_id,
        "enabled": True,
    }
    expect(panel.get_by_role("status").filter(has_text="Added: 06:30 Mon, Wed, Fri")).to_be_visible()
    expect(listed).to_have_count(2)
    mine = listed.filter(has_text="06:30")
    expect(mine).to_contain_text(f"card “{title}”")
    level = volume_to_device(40)
    assert cloud.device_config(player_id)["alarms"][0] == app_alarm
    assert cloud.device_config(player_id)["alarms"][1].split(",")[0:3] == ["1010100", "06:30", card_id]
    assert cloud.device_config(player_id)["alarms"][1].split(",")[5:7] == [str(level), "1"]

    # Off, from its switch.
    with ui.page.expect_request(lambda r: r.method == "PATCH") as sent:
        panel.get_by_role("switch", name="Alarm at 06:30 Mon, Wed, Fri on").uncheck()
    assert _body(sent.value) == {"enabled": False}
    expect(mine).to_contain_text("· off")
    expect(panel.get_by_role("switch", name="Alarm at 06:30 Mon, Wed, Fri on")).not_to_be_checked()
    expect(panel.get_by_role("switch", name="Alarm at 06:30 Mon, Wed, Fri on")).to_be_focused()  # the list redrawn
    assert [a["enabled"] for a in _api(ui, "GET", f"/api/players/{player_id}/alarms")["alarms"]] == [True, False]

    # Changed: another time and Saturday too, the built-in sound the app's alarm plays; only those sent.
    panel.get_by_role("button", name="Change alarm at 06:30 Mon, Wed, Fri").click()
    editor = panel.get_by_role("form", name="Change the alarm at 06:30 Mon, Wed, Fri")
    expect(editor.get_by_label("Alarm time")).to_be_focused()
    editor.get_by_label("Alarm time").fill("06:40")
    editor.get_by_role("button", name="Saturday").click()
    editor.get_by_label("What plays").select_option(label="Sound 5WsQg")
    with ui.page.expect_request(lambda r: r.method == "PATCH") as sent:
        editor.get_by_role("button", name="Save alarm").click()
    assert _body(sent.value) == {"days": ["mon", "wed", "fri", "sat"], "time": "06:40", "sound": "5WsQg"}
    expect(listed.filter(has_text="06:40")).to_contain_text("Volume")
    expect(listed.filter(has_text="06:40")).to_contain_text("sound 5WsQg · off")
    alarms = _api(ui, "GET", f"/api/players/{player_id}/alarms")["alarms"]
    assert alarms[1] | {"n": 1} == {
        "n": 1,
        "days": ["mon", "wed", "fri", "sat"],
        "time": "06:40",
        "volume": volume_from_device(level),
        "card_id": None,
        "sound": "5WsQg",
        "enabled": False,
    }
    assert cloud.device_config(player_id)["alarms"][0] == app_alarm  # the app's alarm, as it was

    # Deleted, after saying yes; the app's alarm stays.
    panel.get_by_role("button", name="Delete alarm at 06:40 Mon, Wed, Fri, Sat").click()
    ui.page.get_by_role("dialog").get_by_role("button", name="Delete alarm").click()
    expect(panel.get_by_role("status").filter(has_text="Deleted the alarm at 06:40")).to_be_visible()
    expect(listed).to_have_count(1)
    assert cloud.device_config(player_id)["alarms"] == [app_alarm]

    # The page's own refusal: no day chosen, nothing sent.
    form.get_by_role("button", name="Add alarm").click()
    expect(form.get_by_role("status")).to_have_text("Choose at least one day.")
    expect(form.get_by_role("button", name="Monday")).to_be_focused()


def test_quiet_hours_and_a_daily_limit_are_set_and_cleared(ui: Ui, rig: Rig, width: str) -> None:
    player_id, name = rig.player("rules", width)
    ui.sign_in(route="players")
    panel = _panel(ui, name)
    _open(panel, "Quiet hours and daily limit")
    before = _api(ui, "GET", f"/api/players/{player_id}/rules")
    assert before["quiet_hours"] is None and before["daily_limit_minutes"] is None
    expect(panel).to_contain_text("minutes played today")
    panel.get_by_role("switch", name=re.compile("^Quiet hours")).check()
    panel.get_by_label("Quiet from").fill("19:45")
    panel.get_by_label("Quiet until").fill("7:15")
    panel.get_by_role("switch", name="A daily limit on listening").check()
    panel.get_by_label("Minutes a day").fill("45")
    panel.get_by_label("Notice spoken first").fill("Time to sleep now")
    with ui.page.expect_request(lambda r: r.method == "PUT" and r.url.endswith("/rules")) as sent:
        panel.get_by_role("button", name=f"Save quiet hours and limit of {name}").click()
    assert _body(sent.value) == {
        "quiet_hours": {"from": "19:45", "to": "07:15"},
        "daily_limit_minutes": 45,
        "notice": "Time to sleep now",
    }
    expect(panel.get_by_role("status").filter(has_text=f"Saved on {name}:")).to_contain_text(
        "quiet 19:45–07:15, 45 minutes a day"
    )
    got = _api(ui, "GET", f"/api/players/{player_id}/rules")
    assert (got["quiet_hours"], got["daily_limit_minutes"], got["notice"]) == (
        {"from": "19:45", "to": "07:15"},
        45,
        "Time to sleep now",
    )
    enforced = "Not enforced now" if got["enforced_by"].startswith("not enforced") else "Enforced by the listener"
    expect(panel).to_contain_text(enforced)

    panel.get_by_role("switch", name="A daily limit on listening").uncheck()
    expect(panel.get_by_label("Minutes a day")).to_be_hidden()
    panel.get_by_role("button", name=f"Save quiet hours and limit of {name}").click()
    expect(panel.get_by_role("status").filter(has_text="no daily limit")).to_be_visible()
    assert _api(ui, "GET", f"/api/players/{player_id}/rules")["daily_limit_minutes"] is None


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_sections_pass_the_page_checks(browser: Browser, rig: Rig, width: str, scheme: str) -> None:
    """Accessible names, Tab order with a visible focus, 44 px targets on a phone and
    contrast, with one player's sections open, an alarm in its list, and the announcement
    box open with its players shown."""
    player_id, name = rig.player("checks", width)
    ui = new_ui(browser, rig.server.url, width, color_scheme=scheme)
    try:
        ui.sign_in(route="players")
        if not _api(ui, "GET", f"/api/players/{player_id}/alarms")["alarms"]:
            _api(ui, "POST", f"/api/players/{player_id}/alarms", data={"days": ["sat", "sun"], "time": "08:00"})
        panel = _panel(ui, name)
        for section in ("Settings", "Alarms"):
            _open(panel, section)
        # from the keyboard: Enter opens it, and focus stays on its summary once the section is in place
        rules = panel.locator("summary").filter(has_text=re.compile("^Quiet hours and daily limit$"))
        rules.focus()
        ui.page.keyboard.press("Enter")
        expect(panel.get_by_label("Quiet from")).to_be_attached()
        expect(rules).to_be_focused()
        expect(panel.locator("details[open]").get_by_text("Opening…")).to_have_count(0, timeout=15_000)
        expect(panel.get_by_role("list", name=f"Alarms on {name}")).to_contain_text("08:00 weekends")
        page = ui.page
        page.get_by_text("Make an announcement", exact=True).click()
        page.get_by_label("On every player").uncheck()  # the players to choose from show
        expect(page.get_by_role("checkbox", name=name, exact=True)).to_be_visible()
        found = _nameless_controls(page) + qa(page, "lowContrast")
        if width == "phone":
            found += [f"small touch target: {t}" for t in qa(page, "smallTargets")]
        found += _tab_through(page)
        assert not found, f"{width}/{scheme}: " + json.dumps(found, indent=1)
    finally:
        ui.page.context.close()
    ui.check()


def test_the_players_page_first_load_is_within_the_budget(browser: Browser, rig: Rig, width: str) -> None:
    """The Players page from a cold cache, signed in already: its HTML, JS and CSS within
    the library page's budget; the sections' module comes only when a section is opened."""
    ui = new_ui(browser, rig.server.url, width)
    try:
        _api(ui, "POST", "/api/auth/login", data={"username": "mum", "password": "mum-has-a-long-password"})
        ui.page.goto(ui.url("players"))
        panel = _panel(ui, rig.player("checks", width)[1])
        ui.page.wait_for_load_state("networkidle")
        timing: dict[str, Any] = ui.page.evaluate(f"{CHECKS_JS}\n;window.__qa.firstLoad()")
        with ui.page.expect_response(lambda r: r.url.endswith("/player-settings.js")):
            _open(panel, "Settings")
        expect(panel.get_by_label("Day starts at")).to_be_visible()
    finally:
        ui.page.context.close()
    ui.check()
    names = [name for name, _ in timing["files"]]
    assert not any(name.endswith("/player-settings.js") for name in names), names
    total = timing["html"] + sum(size for _, size in timing["files"])
    print(f"\nfirst players load ({width}): {total} bytes of HTML/JS/CSS in {1 + len(names)} files")
    assert all(size > 0 for _, size in timing["files"]), "a file came from a cache: the measure is not a first load"
    assert total < FIRST_LOAD_BUDGET


def _playing(ui: Ui, sim: Any, name: str, tmp_path: Path, title: str, **card: Any) -> tuple[Locator, str]:
    """Signed in, a family card (held by the simulated player as `sample_card(**card)`)
    played from the player's panel until the page shows it playing: the panel, the card id."""
    from simulator.players import sample_card

    ui.sign_in()
    card_id = _card(ui, tmp_path, title)
    sim.cards[card_id] = sample_card(card_id, **card)
    ui.goto("players")
    panel = _panel(ui, name)
    panel.get_by_label("Card to play").select_option(label=title)
    panel.get_by_role("button", name="Play card").click()
    expect(panel).to_contain_text(f"Playing: {title}", timeout=20_000)  # the listener has seen it play
    return panel, card_id


def test_sleep_at_the_end_of_the_track_pauses_the_player_as_the_next_one_starts(
    ui: Ui, rig: Rig, width: str, tmp_path: Path
) -> None:
    sim = rig.sim("sleep", width)
    name = rig.player("sleep", width)[1]
    title = f"Three short tracks {width}"
    panel, _ = _playing(ui, sim, name, tmp_path, title, chapters=1, tracks=3, length_s=6.0)
    assert _api(ui, "GET", "/api/players")["sleep_at_end"] == {"available": True, "reason": None}
    pauses_before = sum(1 for family, _ in sim.received if family == "card/pause")

    panel.get_by_label("Sleep timer", exact=True).select_option(label="At the end of this track")
    with ui.page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/commands")) as sent:
        panel.get_by_role("button", name=f"Set sleep timer on {name}").click()
    assert _body(sent.value) == {"action": "sleep_timer", "at_end_of": "track"}
    said = panel.get_by_role("status").filter(has_text="Sleep at the end of this track")
    expect(said).to_have_text("Sleep at the end of this track: set: it pauses when the track ends.")
    assert sim.snapshot()["playback_status"] == "playing"  # nothing sent yet: the track plays on

    def stopped() -> dict[str, Any] | None:
        snap = sim.snapshot()
        return snap if snap["playback_status"] != "playing" else None

    snap = eventually(stopped, timeout=20)
    assert snap["playback_status"] == "paused" and snap["track_key"] in ("02", "03"), snap
    assert snap["position_s"] < 2.0, snap  # paused as the next track began, not later
    assert sum(1 for family, _ in sim.received if family == "card/pause") == pauses_before + 1
    expect(panel).to_contain_text(f"Paused: {title}", timeout=20_000)


def test_an_announcement_from_the_page_puts_the_player_back_where_it_was(
    ui: Ui, rig: Rig, width: str, tmp_path: Path
) -> None:
    sim = rig.sim("announce", width)
    name = rig.player("announce", width)[1]
    title = f"Long story {width}"
    _, card_id = _playing(ui, sim, name, tmp_path, title, chapters=2, tracks=2, length_s=600)
    where = sim.snapshot()
    sent_before = len(sim.received)

    box = ui.page.get_by_role("form", name="Make an announcement")
    ui.page.get_by_text("Make an announcement", exact=True).click()
    box.get_by_role("button", name="Announce").click()
    expect(box.get_by_role("status")).to_have_text("Type what to say first.")
    box.get_by_label("What to say").fill("Dinner in five minutes")
    box.get_by_label("On every player").uncheck()
    box.get_by_role("checkbox", name=name, exact=True).check()
    with ui.page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/announcements")) as sent:
        box.get_by_role("button", name="Announce").click()
    assert _body(sent.value) == {"text": "Dinner in five minutes", "player_ids": [sim.player_id]}
    outcome = box.get_by_role("list", name="How the announcement went")
    expect(outcome).to_be_visible(timeout=60_000)
    expect(outcome).to_have_text(f"{name}: back where it was")
    expect(box.get_by_role("status")).to_have_text("Announced on 1 of 1 player.")
    back = sim.snapshot()
    assert (back["card_id"], back["chapter_key"], back["track_key"]) == (
        card_id,
        where["chapter_key"],
        where["track_key"],
    )
    assert back["playback_status"] == "playing"
    # it did play something else meanwhile: the announcement's card, then ours again
    started = [json.loads(p) for family, p in sim.received[sent_before:] if family == "card/start"]
    assert started and card_id not in str(started[0]) and card_id in str(started[-1]), started
