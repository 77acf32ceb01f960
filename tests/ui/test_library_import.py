"""The Library page's import in the browser: a ZIP of two folders picked in the file input
is sent with its progress through the two-step upload (it is larger than MAX_BODY_KB),
followed file by file to its end, and shows what was made and each file not imported with
its reason; its folders are playlists and its files items. A ZIP with an entry outside
the import is refused in words, with nothing made."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from tests.audio_fixtures import write_tone
from tests.services.import_archives import with_entry
from tests.ui.conftest import Ui, ui_api


def _archive(tmp_path: Path, tag: str) -> Path:
    tone = write_tone(tmp_path / "t.mp3", "mp3", seconds=0.2).read_bytes()
    dest = tmp_path / f"family {tag}.zip"
    with zipfile.ZipFile(dest, "w") as zf:
        for folder in (f"Owls {tag}", f"Bedtime {tag}"):
            for n in (1, 2):
                zf.writestr(f"{folder}/{folder} track {n}.mp3", tone)
        zf.writestr(f"Owls {tag}/broken {tag}.mp3", b"\xff\xfb\x90\x00" + b"\x00" * 300)
        zf.writestr(f"Owls {tag}/liner notes.txt", os.urandom(100_000))  # past MAX_BODY_KB: the two-step way
    return dest


def test_a_zip_of_two_folders_is_imported_with_its_progress(ui: Ui, tmp_path: Path) -> None:
    ui.sign_in()
    tag = ui.width
    ui.page.get_by_label("Choose a ZIP or an audiobook to import").set_input_files(str(_archive(tmp_path, tag)))
    panel = ui.page.get_by_role("region", name="Import a collection")
    expect(panel.get_by_role("status")).to_have_text(
        "Imported: 4 of 5 audio files imported: 4 items, 2 playlists; 1 skipped, each with its reason", timeout=60_000
    )
    bar = panel.get_by_role("progressbar", name="Import progress")
    expect(bar).to_have_attribute("value", "5")
    expect(bar).to_have_attribute("max", "5")
    refused = ui.page.get_by_role("list", name="Files not imported").get_by_role("listitem")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text(f"broken {tag}.mp3")
    expect(refused).to_contain_text(re.compile("audio"))
    library = ui.page.get_by_role("list", name="Audio in the library")
    expect(library.get_by_role("listitem").filter(has_text=f"Bedtime {tag} track 1")).to_be_visible()
    names = {p["name"]: len(p["audio_ids"]) for p in ui_api(ui, "GET", "/api/playlists?limit=200")["items"]}
    assert names[f"Bedtime {tag}"] == 2 and names[f"Owls {tag}"] == 2


def test_a_zip_slip_entry_is_refused_in_words(ui: Ui, tmp_path: Path) -> None:
    ui.allow(422)
    ui.sign_in()
    tag = ui.width
    hostile = with_entry(_archive(tmp_path, f"slip {tag}"), tmp_path / "slip.zip", "../outside.mp3")
    before = len(ui_api(ui, "GET", "/api/playlists?limit=200")["items"])
    ui.page.get_by_label("Choose a ZIP or an audiobook to import").set_input_files(str(hostile))
    panel = ui.page.get_by_role("region", name="Import a collection")
    expect(panel.get_by_role("status")).to_have_text(re.compile(r"Not imported: .*outside the import"))
    assert len(ui_api(ui, "GET", "/api/playlists?limit=200")["items"]) == before
    expect(ui.page.get_by_role("list", name="Audio in the library").filter(has_text=f"slip {tag}")).to_have_count(0)


def test_a_folder_is_packed_in_the_page_and_imported(ui: Ui, tmp_path: Path) -> None:
    """The folder picker (as a dropped folder): the page zips the folder itself, its sub-folders become playlists."""
    ui.sign_in()
    tag = ui.width
    top = tmp_path / f"Family {tag}"
    for folder, freq in ((f"Songs {tag}", 330.0), (f"Stories {tag}", 550.0)):
        (top / folder).mkdir(parents=True)
        for n in (1, 2, 10):
            write_tone(top / folder / f"{folder} {n}.mp3", "mp3", seconds=0.2, freq=freq)
    ui.page.get_by_label("Choose a folder to import").set_input_files(str(top))
    panel = ui.page.get_by_role("region", name="Import a collection")
    expect(panel.get_by_role("status")).to_have_text(
        "Imported: 6 of 6 audio files imported: 6 items, 2 playlists", timeout=60_000
    )
    made = {p["name"]: p["audio_ids"] for p in ui_api(ui, "GET", "/api/playlists?limit=200")["items"]}
    songs = [ui_api(ui, "GET", f"/api/audio/{i}")["title"] for i in made[f"Songs {tag}"]]
    assert songs == [f"Songs {tag} 1", f"Songs {tag} 2", f"Songs {tag} 10"]
    assert len(made[f"Stories {tag}"]) == 3
