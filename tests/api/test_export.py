"""`GET /api/export` and `POST /api/import-backup` over HTTP: an admin's backup of a family
restored into a fresh install (same audio bytes, same manifest but `exported_at`), a changed file
refused by name with nothing kept, a second restore adding nothing; members may do neither, and
on AWS both answer 409 (no audio passes through the Lambda)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.records import Playlist
from core.settings import Settings
from tests.api.conftest import MEMBER, TEST_LIMITS, Api, make_api
from tests.contract.backup_family import SIZES, opened, populate, rewritten

# The import streams its body to a file under its own cap (BACKUP_MAX_MB): it is one of
# app/http/limits.py's STREAMING_UPLOADS, so the general 64 KiB body cap does not stand before it.
ROOMY = dict(TEST_LIMITS)


def _pieces(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _install(local_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> Api:
    settings = local_settings.model_copy(update={**ROOMY, "data_dir": tmp_path / name})
    return make_api(settings, monkeypatch, tmp_path / f"{name}-api")


def test_an_admin_exports_and_a_fresh_install_restores_it_whole(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = _install(local_settings, monkeypatch, tmp_path, "home")
    populate(home.adapters.records, home.adapters.storage)
    assert home.client().get("/api/export").status_code == 401
    assert home.login(MEMBER).get("/api/export").status_code == 403
    r = home.login().get("/api/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="yoto-smart-stream-')
    archive = r.content
    audio, manifest = opened(archive)
    assert len(audio) == len(SIZES)

    fresh = _install(local_settings, monkeypatch, tmp_path, "fresh")
    admin = fresh.login()
    assert fresh.login(MEMBER).post("/api/import-backup", content=archive).status_code == 403
    audio_path = sorted(audio)[0]
    tampered = rewritten(archive, {audio_path: audio[audio_path][:-1] + b"\0"})
    r = admin.post("/api/import-backup", content=_pieces(tampered), headers={"Content-Type": "application/zip"})
    assert r.status_code == 422 and audio_path in r.json()["detail"], r.text
    assert fresh.adapters.records.audio.list(limit=10).items == []

    r = admin.post("/api/import-backup", content=_pieces(archive), headers={"Content-Type": "application/zip"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"]["audio"] == len(SIZES) and body["added"]["stories"] == 1 and body["already_there"] == {}
    assert body["unknown_owners"] == []  # mum and kid are members here too
    again_audio, again = opened(admin.get("/api/export").content)
    assert again_audio == audio
    again.pop("exported_at"), manifest.pop("exported_at")
    assert again == manifest
    second = admin.post("/api/import-backup", content=archive).json()
    assert second["added"] == {} and second["already_there"]["audio"] == len(SIZES)
    assert [p.name for p in fresh.adapters.records.playlists.list(limit=10).items] == ["Bedtime"]


def test_a_restore_names_owners_who_are_no_members_here(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = _install(local_settings, monkeypatch, tmp_path, "home")
    populate(home.adapters.records, home.adapters.storage)
    home.adapters.identity.create_user("gran", "knits all the long winter", is_admin=False)
    home.adapters.records.playlists.add(Playlist(id="plg", owner="gran", name="Gran's"))
    archive = home.login().get("/api/export").content
    fresh = _install(local_settings, monkeypatch, tmp_path, "fresh")
    r = fresh.login().post("/api/import-backup", content=archive)
    assert r.status_code == 200 and r.json()["unknown_owners"] == ["gran"], r.text


def test_what_is_not_a_backup_is_refused(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh = _install(local_settings, monkeypatch, tmp_path, "fresh")
    admin = fresh.login()
    r = admin.post("/api/import-backup", content=b"not a zip at all")
    assert r.status_code == 422 and "not a ZIP" in r.json()["detail"]


def test_a_backup_past_its_cap_is_refused_while_it_arrives(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = local_settings.model_copy(update={**ROOMY, "backup_max_mb": 1, "data_dir": tmp_path / "small"})
    small = make_api(settings, monkeypatch, tmp_path / "small-api")
    r = small.login().post("/api/import-backup", content=_pieces(b"\0" * (2 * 1024 * 1024)))
    assert r.status_code == 413 and "BACKUP_MAX_MB" in r.json()["detail"], r.text


def test_backups_are_refused_on_aws(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    admin = make_api(aws_settings.model_copy(update=ROOMY), monkeypatch, tmp_path).login()
    for r in (admin.get("/api/export"), admin.post("/api/import-backup", content=b"PK")):
        assert r.status_code == 409 and "migrate --to-local" in r.json()["detail"], r.text
