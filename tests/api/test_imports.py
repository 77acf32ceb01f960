"""POST /api/imports over HTTP on both adapter sets: a zipped collection of 200 files in two
folders becomes 200 items and two playlists (followed as its run where the workers take it);
an M4B with 12 chapters 12 items in order; a zip-slip entry and a 1 GB bomb refused with
nothing kept (no record, no object, no scratch file)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.api.conftest import ADMIN, MEMBER, Api, assert_nothing_left, make_api, stored_keys
from tests.audio_fixtures import write_tone
from tests.services.import_archives import bomb, collection, m4b_book, with_entry
from tests.waiting import eventually

DONE = ("ok", "partial", "failed")
TWELVE = [f"Chapter {n}" for n in range(1, 13)]


@pytest.fixture
def api(api_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    built = make_api(api_settings, monkeypatch, tmp_path)  # the archive streams past MAX_BODY_KB
    yield built
    from wiring import root_for

    root_for(built.adapters).stop_workers(grace_s=10)
    for c in built.clients:
        c.close()


def send(c: Any, path: Path, name: str | None = None) -> Any:
    with path.open("rb") as fh:
        return c.post("/api/imports", files={"file": (name or path.name, fh, "application/zip")})


def finished(c: Any, answer: Any, timeout: float = 60.0) -> dict[str, Any]:
    """The import's run once it has ended: at once (200, it ran in the request) or polled (202)."""
    assert answer.status_code in (200, 202), answer.text
    run = answer.json()["run"]
    if answer.status_code == 200:
        assert run["status"] in DONE
        return dict(run)

    def ended() -> dict[str, Any] | None:
        got = c.get(f"/api/runs/{run['id']}").json()
        return got if got.get("status") in DONE else None

    return dict(eventually(ended, timeout, every=0.1))


def playlists(c: Any) -> list[dict[str, Any]]:
    r = c.get("/api/playlists", params={"limit": 200})
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=lambda p: p["created_at"])


def titles(c: Any, ids: list[str]) -> list[str]:
    return [c.get(f"/api/audio/{i}").json()["title"] for i in ids]


def test_two_hundred_files_in_two_folders(api: Api, tmp_path: Path) -> None:
    c = api.login(MEMBER)
    archive = collection(tmp_path, tmp_path / "family.zip", folders=["Songs", "Bedtime"], per_folder=100)
    started = time.monotonic()
    answer = send(c, archive)
    assert answer.status_code == (200 if api.settings.use_aws else 202), answer.text
    run = finished(c, answer)
    took = time.monotonic() - started
    assert run["status"] == "ok", run["detail"]
    assert run["kind"] == "import" and run["detail"] == "200 of 200 audio files imported: 200 items, 2 playlists"
    audio = [r for r in run["results"] if r["kind"] == "audio"]
    assert len(audio) == 200 and all(r["status"] == "ok" for r in audio)

    found = playlists(c)
    assert [p["name"] for p in found] == ["Bedtime", "Songs"]  # name order
    assert all(len(p["audio_ids"]) == 100 and p["owner"] == MEMBER[0] for p in found)
    assert titles(c, found[0]["audio_ids"][:3]) == ["Track 1", "Track 2", "Track 3"]
    assert titles(c, found[0]["audio_ids"][-1:]) == ["Track 100"]
    usage = c.get("/api/audio/usage").json()
    assert usage["items"] == 200
    print(f"200-file import took {took:.1f} s ({api.settings.backend})")


def test_an_m4b_with_twelve_chapters(api: Api, tmp_path: Path) -> None:
    c = api.login(ADMIN)
    book = m4b_book(tmp_path, "Owls at Night", TWELVE, seconds_each=0.4)
    run = finished(c, send(c, book, "Owls at Night.m4b"))
    assert run["status"] == "ok", run["detail"]
    [playlist] = playlists(c)
    assert playlist["name"] == "Owls at Night"
    assert titles(c, playlist["audio_ids"]) == TWELVE
    assert run["results"][0]["item_ids"] == playlist["audio_ids"]


def test_a_zip_slip_entry_is_refused_with_nothing_kept(api: Api, tmp_path: Path) -> None:
    c = api.login(ADMIN)
    good = collection(tmp_path, tmp_path / "c.zip", folders=["A"], per_folder=3)
    tone = write_tone(tmp_path / "e.mp3", "mp3", seconds=0.1).read_bytes()
    hostile = with_entry(good, tmp_path / "slip.zip", "Collection/../../../evil.mp3", tone)
    r = send(c, hostile)
    assert r.status_code == 422, r.text
    assert "outside the import" in r.json()["detail"]
    assert_nothing_left(api)
    assert playlists(c) == []


def test_a_one_gigabyte_bomb_is_refused_with_nothing_kept(api: Api, tmp_path: Path) -> None:
    c = api.login(ADMIN)
    archive = bomb(tmp_path / "bomb.zip")
    started = time.monotonic()
    r = send(c, archive)
    assert r.status_code == 413, r.text
    assert "ZIP bomb" in r.json()["detail"]
    assert time.monotonic() - started < 10
    assert_nothing_left(api)


def test_refusals_before_anything_is_read(api: Api, tmp_path: Path) -> None:
    anonymous = api.client()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert send(anonymous, text).status_code == 401
    c = api.login(ADMIN)
    r = send(c, text)
    assert r.status_code == 415, r.text
    r = c.post("/api/imports", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert_nothing_left(api)


def _two_step(api: Api, c: Any, archive: Path) -> Any:
    from tests.api.test_uploads import _send

    r = c.post("/api/imports/uploads", json={"filename": archive.name, "size_bytes": archive.stat().st_size})
    assert r.status_code == 201, r.text
    started = r.json()
    assert _send(api, started["target"], archive.read_bytes(), archive.name) in (200, 201, 204)
    return c.post(f"/api/imports/uploads/{started['id']}/complete")


def test_the_two_step_way_in(api: Api, tmp_path: Path) -> None:
    """Past the API's own body (Lambda's payload limit): the archive goes to a signed target first."""
    c = api.login(MEMBER)
    archive = collection(tmp_path, tmp_path / "big.zip", folders=["One", "Two"], per_folder=3)
    run = finished(c, _two_step(api, c, archive))
    assert run["status"] == "ok", run["detail"]
    assert [(p["name"], len(p["audio_ids"])) for p in playlists(c)] == [("One", 3), ("Two", 3)]
    assert len(stored_keys(api.adapters)) == 6 and all(k.startswith("audio/") for k in stored_keys(api.adapters))

    hostile = with_entry(archive, tmp_path / "slip.zip", "../evil.mp3")
    r = _two_step(api, c, hostile)
    assert r.status_code == 422 and "outside the import" in r.json()["detail"], r.text
    assert len(stored_keys(api.adapters)) == 6  # the staged archive went too
    too_big = c.post("/api/imports/uploads", json={"filename": "x.zip", "size_bytes": 2 << 40})
    assert too_big.status_code == 413, too_big.text
