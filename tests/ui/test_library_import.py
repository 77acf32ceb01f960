"""The Library page's import in the browser: a ZIP of two folders picked in the file input
is sent with its progress through the two-step upload (it is larger than MAX_BODY_KB),
followed file by file to its end, and shows what was made and each file not imported with
its reason; its folders are playlists and its files items. A ZIP with an entry outside
the import is refused in words, with nothing made."""

from __future__ import annotations

import os
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

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


def _tag(ui: Ui) -> str:
    """Names only this test uses: the shared server holds whatever other tests made, under any name."""
    return f"{ui.width} {uuid.uuid4().hex[:6]}"


def _playlists(ui: Ui) -> list[dict[str, Any]]:
    """Every playlist of the admin, through all the pages."""
    found: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 200}
    while True:
        page = ui_api(ui, "GET", "/api/playlists", params=params)
        found += page["items"]
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def _made(ui: Ui, *names: str) -> dict[str, list[str]]:
    """The audio ids of each named playlist, each name made exactly once."""
    made = {n: [p["audio_ids"] for p in _playlists(ui) if p["name"] == n] for n in names}
    assert all(len(m) == 1 for m in made.values()), made
    return {n: m[0] for n, m in made.items()}


def test_a_zip_of_two_folders_is_imported_with_its_progress(ui: Ui, tmp_path: Path) -> None:
    ui.sign_in()
    tag = _tag(ui)
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
    made = _made(ui, f"Bedtime {tag}", f"Owls {tag}")
    assert len(made[f"Bedtime {tag}"]) == 2 and len(made[f"Owls {tag}"]) == 2


def test_a_zip_slip_entry_is_refused_in_words(ui: Ui, tmp_path: Path) -> None:
    ui.allow(422)
    ui.sign_in()
    tag = _tag(ui)
    hostile = with_entry(_archive(tmp_path, f"slip {tag}"), tmp_path / "slip.zip", "../outside.mp3")
    before = len(_playlists(ui))
    ui.page.get_by_label("Choose a ZIP or an audiobook to import").set_input_files(str(hostile))
    panel = ui.page.get_by_role("region", name="Import a collection")
    expect(panel.get_by_role("status")).to_have_text(re.compile(r"Not imported: .*outside the import"))
    after = _playlists(ui)
    assert len(after) == before and not [p for p in after if f"slip {tag}" in p["name"]]
    expect(ui.page.get_by_role("list", name="Audio in the library").filter(has_text=f"slip {tag}")).to_have_count(0)


def test_a_folder_is_packed_in_the_page_and_imported(ui: Ui, tmp_path: Path) -> None:
    """The folder picker (as a dropped folder): the page zips the folder itself, its sub-folders become playlists."""
    ui.sign_in()
    tag = _tag(ui)
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
    made = _made(ui, f"Songs {tag}", f"Stories {tag}")
    songs = [ui_api(ui, "GET", f"/api/audio/{i}")["title"] for i in made[f"Songs {tag}"]]
    assert songs == [f"Songs {tag} 1", f"Songs {tag} 2", f"Songs {tag} 10"]
    assert len(made[f"Stories {tag}"]) == 3
