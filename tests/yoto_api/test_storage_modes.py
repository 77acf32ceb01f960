"""`storage` on `/api/cards` over HTTP against the fake Yoto cloud: an install with no
public https address makes `yoto` cards by default, queued behind their uploads (202,
each track's progress on the run), the card written when every track is ready; a
remake is written in the request (Yoto holds the audio); a failed transcode fails the
run naming its track and leaves the card as it was."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from simulator.cloud import RunningCloud
from tests.audio_fixtures import write_tone
from tests.yoto_api.conftest import ADMIN, YApi, build_yapi, close, link


@pytest.fixture
def laptop(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[YApi]:
    """An install whose PUBLIC_URL is http://127.0.0.1:8000 and which does not vouch for it."""
    yoto_cloud.configure(transcode_delay_s=0.3)
    built = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path, allow_http_public_url=False)
    yield built
    close(built)


@pytest.fixture
def mum(laptop: YApi) -> TestClient:
    client = laptop.login(ADMIN)
    link(client)
    return client


def _item(yapi: YApi, tmp_path: Path, title: str, freq: float = 440.0) -> str:
    src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=1.0, freq=freq)
    return yapi.api.add_item(title=title, data=src.read_bytes()).id


def _finished(client: TestClient, run_id: str, seen: list[dict[str, Any]]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        seen.append(run)
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end: {seen[-1]}")


def test_a_laptop_install_makes_a_yoto_card_behind_its_uploads(laptop: YApi, mum: TestClient, tmp_path: Path) -> None:
    a, b = _item(laptop, tmp_path, "Owl"), _item(laptop, tmp_path, "Moon", 660.0)
    r = mum.post("/api/cards", json={"title": "Night", "tracks": [{"audio_id": a}, {"audio_id": b}]})
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["run"]["kind"] == "card-upload" and set(queued) == {"run"}
    card_id = queued["run"]["subject_id"]  # the card the run writes
    assert mum.get(f"/api/cards/{card_id}").status_code == 404  # nothing written yet
    seen: list[dict[str, Any]] = []
    run = _finished(mum, queued["run"]["id"], seen)
    assert run["status"] == "ok", run
    assert [(t["track"], t["audio_id"], t["phase"]) for t in run["results"]] == [
        (1, a, "complete"),
        (2, b, "complete"),
    ]
    card = mum.get(f"/api/cards/{card_id}").json()
    assert card["storage"] == "yoto"
    tracks = [c["tracks"][0] for c in laptop.sim_card(card["yoto_card_id"])["content"]["chapters"]]
    assert [t["type"] for t in tracks] == ["audio", "audio"]
    assert all(t["trackUrl"].startswith("yoto:#") for t in tracks)

    check = mum.get(f"/api/cards/{card['id']}/check").json()
    assert check["ok"] and [t["kind"] for t in check["tracks"]] == ["audio", "audio"], check
    repaired = mum.post(f"/api/cards/{card['id']}/repair")
    assert repaired.status_code == 200 and repaired.json()["yoto_card_id"] == card["yoto_card_id"]

    uploads = len(laptop.cloud.requests("GET", "/media/transcode/audio/uploadUrl"))
    again = mum.post("/api/cards", json={"title": "Night again", "tracks": [{"audio_id": a}]})
    assert again.status_code == 201 and again.json()["storage"] == "yoto"
    assert len(laptop.cloud.requests("GET", "/media/transcode/audio/uploadUrl")) == uploads


def test_a_failed_transcode_fails_the_run_and_keeps_the_card(laptop: YApi, mum: TestClient, tmp_path: Path) -> None:
    a, b = _item(laptop, tmp_path, "Owl"), _item(laptop, tmp_path, "Moon", 660.0)
    first = mum.post("/api/cards", json={"title": "Night", "tracks": [{"audio_id": a}]})
    card_id = first.json()["run"]["subject_id"]
    assert _finished(mum, first.json()["run"]["id"], [])["status"] == "ok"
    before = mum.get(f"/api/cards/{card_id}").json()
    laptop.cloud.fail_transcode(message="Unsupported audio")
    r = mum.put(f"/api/cards/{card_id}", json={"title": "Night", "tracks": [{"audio_id": a}, {"audio_id": b}]})
    assert r.status_code == 202
    run = _finished(mum, r.json()["run"]["id"], [])
    assert run["status"] == "failed" and "track 2 “Moon”" in run["detail"] and "Unsupported audio" in run["detail"]
    assert mum.get(f"/api/cards/{card_id}").json() == before


def test_storage_is_stream_or_yoto(mum: TestClient, laptop: YApi) -> None:
    r = mum.post("/api/cards", json={"title": "X", "tracks": [{"audio_id": laptop.item().id}], "storage": "disk"})
    assert r.status_code == 422 and "storage" in r.text
