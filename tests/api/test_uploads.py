"""The two-step upload flow on both adapter sets: ask for a signed target,
send the bytes there (locally the app's own signed route, through the same
TestClient; on AWS the presigned POST, to moto over HTTP), then complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.audio_files import not_audio, tone
from tests.api.conftest import ADMIN, MEMBER, Api, assert_nothing_left, stored_keys


def _send(api: Api, target: dict[str, Any], data: bytes, filename: str = "song.bin") -> int:
    """Send the bytes the way the browser UI does: no cookie, no Origin."""
    assert target["method"] == "POST"
    files = {target["file_field"]: (filename, data, "application/octet-stream")}
    if api.settings.use_aws:
        with httpx.Client(timeout=30) as client:
            r = client.post(target["url"], data=target["fields"], files=files)
    else:
        r = api.client(origin=None).post(target["url"], data=target["fields"], files=files)
    return r.status_code


def _start(c: Any, **body: Any) -> dict[str, Any]:
    r = c.post("/api/audio/uploads", json=body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("fmt", ["m4a", "flac"])
def test_two_step_upload(api: Api, audio_dir: Path, fmt: str) -> None:
    c = api.login(MEMBER)
    data = tone(audio_dir, fmt).read_bytes()
    started = _start(c, filename=f"story.{fmt}", size_bytes=len(data))
    target = started["target"]
    assert set(target) == {"url", "method", "fields", "headers", "file_field", "expires_at"}
    assert _send(api, target, data) in (200, 201, 204)
    assert stored_keys(api.adapters) == [f"uploads/{started['id']}"]

    r = c.post(f"/api/audio/uploads/{started['id']}/complete", json={})
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["title"] == "story" and item["owner"] == MEMBER[0] and item["format"] == "mp3"
    assert item["duration_s"] > 1.0
    stored = api.adapters.records.audio.get(item["id"])
    assert stored_keys(api.adapters) == [stored.storage_key] == [f"audio/{item['id']}.mp3"]
    # The staging object and the pending record are gone: completing twice is a 404.
    assert c.post(f"/api/audio/uploads/{started['id']}/complete").status_code == 404


def test_complete_with_title(api: Api, audio_dir: Path) -> None:
    c = api.login(ADMIN)
    started = _start(c, title="Given at start")
    assert _send(api, started["target"], tone(audio_dir, "wav").read_bytes()) in (200, 201, 204)
    r = c.post(f"/api/audio/uploads/{started['id']}/complete", json={"title": "Chosen at the end"})
    assert r.json()["title"] == "Chosen at the end"


def test_unknown_foreign_and_unsent_uploads(api: Api, audio_dir: Path) -> None:
    admin, kid = api.login(ADMIN), api.login(MEMBER)
    assert kid.post("/api/audio/uploads/nope/complete").status_code == 404
    started = _start(admin)
    # Nothing sent yet.
    r = admin.post(f"/api/audio/uploads/{started['id']}/complete")
    assert r.status_code == 409
    assert _send(api, started["target"], tone(audio_dir, "mp3").read_bytes()) in (200, 201, 204)
    # Someone else's upload reads as missing.
    r = kid.post(f"/api/audio/uploads/{started['id']}/complete")
    assert r.status_code == 404
    assert api.client().post(f"/api/audio/uploads/{started['id']}/complete").status_code == 401
    assert admin.post(f"/api/audio/uploads/{started['id']}/complete").status_code == 201


def test_expired_upload_is_404(api: Api, audio_dir: Path) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from core.records import utcnow

    c = api.login(ADMIN)
    started = _start(c)
    assert _send(api, started["target"], tone(audio_dir, "mp3").read_bytes()) in (200, 201, 204)
    pending = api.adapters.records.uploads.get(started["id"])
    api.adapters.records.uploads.delete(pending.id)
    api.adapters.records.uploads.add(replace(pending, expires_at=utcnow() - timedelta(seconds=1)))
    assert c.post(f"/api/audio/uploads/{started['id']}/complete").status_code == 404


def test_declared_size_over_the_cap_is_413(api: Api) -> None:
    c = api.login(ADMIN)
    r = c.post("/api/audio/uploads", json={"size_bytes": api.settings.max_upload_bytes + 1})
    assert r.status_code == 413
    assert_nothing_left(api)


def test_bytes_over_the_cap_are_caught_at_complete(api: Api, audio_dir: Path) -> None:
    """moto does not enforce the presigned POST's size condition (and a local
    object could be placed by other means), so the complete step checks."""
    c = api.login(ADMIN)
    started = _start(c)
    key = f"uploads/{started['id']}"
    api.adapters.storage.put_bytes(key, b"\0" * (api.settings.max_upload_bytes + 1), "application/octet-stream")
    r = c.post(f"/api/audio/uploads/{started['id']}/complete")
    assert r.status_code == 413
    assert_nothing_left(api)
    assert c.post(f"/api/audio/uploads/{started['id']}/complete").status_code == 404


def test_not_audio_at_complete_is_415_and_cleans_up(api: Api, audio_dir: Path) -> None:
    c = api.login(ADMIN)
    started = _start(c, filename="song.mp3")
    assert _send(api, started["target"], not_audio(audio_dir).read_bytes(), "song.mp3") in (200, 201, 204)
    r = c.post(f"/api/audio/uploads/{started['id']}/complete")
    assert r.status_code == 415
    assert_nothing_left(api)
    assert c.post(f"/api/audio/uploads/{started['id']}/complete").status_code == 404


def test_cancel_upload(api: Api, audio_dir: Path) -> None:
    c = api.login(ADMIN)
    started = _start(c)
    assert _send(api, started["target"], tone(audio_dir, "mp3").read_bytes()) in (200, 201, 204)
    assert api.login(MEMBER).delete(f"/api/audio/uploads/{started['id']}").status_code == 404
    assert c.delete(f"/api/audio/uploads/{started['id']}").status_code == 204
    assert_nothing_left(api)


def test_two_completes_at_once_make_one_item(api: Api, audio_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    c = api.login(ADMIN)
    started = _start(c)
    assert _send(api, started["target"], tone(audio_dir, "flac", seconds=4.0).read_bytes()) in (200, 201, 204)
    url = f"/api/audio/uploads/{started['id']}/complete"
    clients = [api.client(), api.client()]
    for other in clients:
        other.cookies.update(c.cookies)
    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda cl: cl.post(url).status_code, clients))
    assert statuses[0] == 201 and statuses[1] in (404, 409), statuses
    assert len(api.adapters.records.audio.list(limit=10).items) == 1
    assert len(stored_keys(api.adapters)) == 1
