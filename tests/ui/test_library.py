"""Signing in and the Library page in the browser: upload several files
(picked and dropped) with a progress bar each and refusals in words, text to
speech with the quota left, search, rename, play, delete with the "used by"
warning, and a 401 that brings back the sign-in form and returns."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from playwright.sync_api import Locator, expect

from core.settings import Settings
from tests.audio_fixtures import text_file, write_tone
from tests.ui.conftest import ADMIN, Ui, UiServer


def _library_row(ui: Ui, title: str) -> Locator:
    return ui.page.get_by_role("list", name="Audio in the library").get_by_role("listitem").filter(has_text=title)


def test_sign_in_refuses_a_wrong_password_in_words_then_signs_in_and_out(ui: Ui) -> None:
    ui.allow(401)
    page = ui.page
    page.goto(ui.url())
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status").filter(has_text="do not match")).to_be_visible()
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Library", level=1)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Library", "Cards", "Playlists", "Players", "Yoto account", "Family"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Library")).to_have_attribute("aria-current", "page")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()


def test_upload_two_files_and_a_refusal_each_with_its_own_progress(ui: Ui, tmp_path: Path) -> None:
    ui.allow(415)
    ui.sign_in()
    tag = ui.width
    files = [
        write_tone(tmp_path / f"Owl song {tag}.mp3", "mp3", seconds=2),
        write_tone(tmp_path / f"Rain noise {tag}.wav", "wav", seconds=1, freq=330),
        text_file(tmp_path / f"shopping list {tag}.mp3"),
    ]
    ui.page.get_by_label("Choose audio files to upload").set_input_files([str(f) for f in files])
    uploads = ui.page.get_by_role("list", name="Uploads")
    for title in (f"Owl song {tag}", f"Rain noise {tag}"):
        item = uploads.get_by_role("listitem").filter(has_text=title)
        expect(item.get_by_role("status")).to_have_text(re.compile(rf"Added as “{title}”"))
        expect(item.get_by_role("progressbar")).to_have_attribute("value", "1")
        expect(_library_row(ui, title)).to_be_visible()
    refused = uploads.get_by_role("listitem").filter(has_text="shopping list")
    expect(refused.get_by_role("status")).to_have_text(re.compile(r"Not added: this is not an audio file we accept"))
    expect(_library_row(ui, "shopping list")).to_have_count(0)
    expect(ui.page.locator("#usage")).to_contain_text(re.compile(r"\d+ of yours"))


def test_a_dropped_file_is_uploaded(ui: Ui, tmp_path: Path) -> None:
    ui.sign_in()
    title = f"Dropped drum {ui.width}"
    data = base64.b64encode(write_tone(tmp_path / "d.mp3", "mp3", seconds=1, freq=220).read_bytes()).decode()
    transfer = ui.page.evaluate_handle(
        """([b64, name]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: "audio/mpeg" }));
            return dt;
        }""",
        [data, f"{title}.mp3"],
    )
    ui.page.dispatch_event("label.drop", "dragenter", {"dataTransfer": transfer})
    ui.page.dispatch_event("label.drop", "drop", {"dataTransfer": transfer})
    expect(_library_row(ui, title)).to_be_visible()


def test_text_to_speech_with_a_voice_and_the_quota_left(ui: Ui) -> None:
    ui.sign_in()
    page = ui.page
    page.get_by_text("Type text to be spoken", exact=True).click()  # an empty library's hint says it too
    quota = page.locator("#tts-quota")
    expect(quota).to_contain_text("characters left today")
    before = int(re.sub(r"\D", "", quota.inner_text().split("characters")[0]))
    voices = page.get_by_label("Voice").locator("option")
    expect(voices.nth(1)).to_be_attached()  # the server's voices are listed after the default
    page.get_by_label("Voice").select_option(index=1)
    title = f"Goodnight {ui.width}"
    text = "Goodnight moon. Goodnight stars."
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Text to speak").fill(text)
    page.get_by_role("button", name="Make audio").click()
    expect(page.get_by_role("status").filter(has_text=f"Added “{title}”")).to_be_visible(timeout=60_000)
    expect(_library_row(ui, title)).to_be_visible()
    expect(_library_row(ui, title)).to_contain_text("spoken")
    expect(quota).to_contain_text(f"{before - len(text):,} characters left today")


def test_search_rename_play_and_delete(ui: Ui, ui_server: UiServer, tmp_path: Path) -> None:
    ui.sign_in()
    page = ui.page
    title = f"Lullaby {ui.width}"
    page.get_by_label("Choose audio files to upload").set_input_files(
        str(write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=3))
    )
    expect(_library_row(ui, title)).to_be_visible()

    # The search answers after a pause: wait for it, or its late answer redraws the list under the rename below.
    with page.expect_response(lambda r: "/api/audio?" in r.url and "q=ullaby" in r.url):
        page.get_by_label("Search the library").fill(f"ullaby {ui.width}")
    results = page.get_by_role("list", name="Audio in the library")
    expect(results).to_have_attribute("aria-busy", "false")
    expect(results.get_by_role("listitem")).to_have_count(1)

    page.get_by_role("button", name=f"Play {title}").click()
    audio = page.get_by_role("region", name="Now playing").locator("audio")
    expect(audio).to_have_attribute("src", re.compile(r"/s/"))
    page.wait_for_function("() => document.querySelector('.player-dock audio').currentTime > 0")

    page.get_by_role("button", name=f"Rename {title}").click()
    page.get_by_label(f"New title for {title}").fill(f"Sleepy {title}")
    page.get_by_role("button", name="Save").click()
    expect(_library_row(ui, f"Sleepy {title}")).to_be_visible()
    expect(page.get_by_role("button", name=f"Rename Sleepy {title}")).to_be_focused()

    page.get_by_role("button", name=f"Delete Sleepy {title}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(_library_row(ui, f"Sleepy {title}")).to_have_count(0)


def test_delete_warns_which_playlist_still_uses_the_item(ui: Ui, ui_server: UiServer, tmp_path: Path) -> None:
    from adapters import Adapters
    from core.records import Playlist

    ui.allow(409)
    ui.sign_in()
    page = ui.page
    title = f"Shared song {ui.width}"
    page.get_by_label("Choose audio files to upload").set_input_files(
        str(write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=1))
    )
    row = _library_row(ui, title)
    expect(row).to_be_visible()
    audio_id = row.get_attribute("data-id")
    assert audio_id
    playlist = Playlist(id=f"pl{ui.width}", owner=ADMIN[0], name=f"Bedtime {ui.width}", audio_ids=(audio_id,))
    Adapters(_settings_of(ui_server)).records.playlists.add(playlist)

    page.get_by_role("button", name=f"Delete {title}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    warning = page.get_by_role("dialog", name="It is still in use")
    expect(warning).to_contain_text(re.compile(rf"playlist.*(Bedtime {ui.width}|{playlist.id})"))
    warning.get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    page.get_by_role("button", name=f"Delete {title}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="It is still in use").get_by_role("button", name="Delete anyway").click()
    expect(row).to_have_count(0)


def test_a_401_brings_back_sign_in_and_returns_to_the_page(ui: Ui) -> None:
    ui.allow(401)
    ui.sign_in(route="family")
    page = ui.page
    expect(page.get_by_role("heading", name="Family", level=1)).to_be_visible()
    # The session ends behind the page's back (another tab signed out).
    page.evaluate("() => fetch('api/auth/logout', { method: 'POST' })")
    page.get_by_role("button", name="Add member").click()  # empty: refused locally, no request
    page.get_by_label("New member's username").fill("someone")
    page.get_by_label("Their password").fill("a-password-long-enough")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Family", level=1)).to_be_visible()
    assert page.url.endswith("#/family")


def _settings_of(server: UiServer) -> Settings:
    from tests.conftest import TEST_SECRET

    return Settings(use_aws=False, data_dir=server.data_dir, session_secret=TEST_SECRET, tts_engine="espeak")
