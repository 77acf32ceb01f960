"""`/api/stories` over HTTP against the fake Yoto cloud (a real HTTP server on 127.0.0.1):
a four-scene story with one choice and two endings saved, refused with its errors, made
into an interactive card behind its uploads (202, the run), played to both endings by
pressing the buttons on the card as Yoto stores it (with nothing of this service in it),
rewritten in place; a Twine file imported with espeak-ng speaking each passage."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from simulator.cloud import RunningCloud
from tests.audio_fixtures import write_tone
from tests.services.test_stories import every_ending
from tests.services.test_story_domain import TEN, walk
from tests.yoto_api.conftest import ADMIN, MEMBER, YApi, build_yapi, close, link


def _mum(yapi: YApi) -> TestClient:
    yapi.cloud.configure(transcode_delay_s=0.2)
    client = yapi.login(ADMIN)
    link(client)
    return client


@pytest.fixture
def mum(yapi: YApi) -> TestClient:
    return _mum(yapi)


def _item(yapi: YApi, tmp_path: Path, title: str, freq: float) -> str:
    src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=1.0, freq=freq)
    return yapi.api.add_item(title=title, data=src.read_bytes()).id


def _finished(client: TestClient, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def _made(client: TestClient, story_id: str) -> str:
    """POST …/card, following the run when it is queued; the Yoto card id."""
    r = client.post(f"/api/stories/{story_id}/card")
    if r.status_code == 202:
        assert set(r.json()) == {"run"} and r.json()["run"]["kind"] == "story-card"
        run = _finished(client, r.json()["run"]["id"])
        assert run["status"] == "ok", run
        yoto_card_id = client.get(f"/api/stories/{story_id}").json()["yoto_card_id"]
    else:
        assert r.status_code == 200, r.text
        yoto_card_id = r.json()["yoto_card_id"]
    assert yoto_card_id
    return str(yoto_card_id)


def test_a_four_scene_story_becomes_a_card_that_plays_to_both_endings_offline(
    yapi: YApi, mum: TestClient, tmp_path: Path
) -> None:
    a, b, c, d = (_item(yapi, tmp_path, t, f) for t, f in (("Door", 330), ("Cave", 440), ("Sea", 550), ("Home", 660)))
    scenes = [
        {"id": "door", "title": "The door", "audio_id": a, "left": "cave", "right": "sea"},
        {"id": "cave", "title": "The cave", "audio_id": b, "next": "home"},
        {"id": "sea", "title": "The sea", "audio_id": c, "ending": True},
        {"id": "home", "title": "Home", "audio_id": d, "ending": True},
    ]
    bad = [{**scenes[0], "right": "seaside"}, *scenes[1:]]
    r = mum.post("/api/stories", json={"title": "Spy", "start": "door", "scenes": bad})
    assert r.status_code == 422 and "scene 'door': right leads to 'seaside'" in r.json()["detail"], r.text
    assert r.json()["problems"][0] == {
        "scene": "door",
        "kind": "missing_scene",
        "level": "error",
        "message": "scene 'door': right leads to 'seaside', no scene",
    }
    r = mum.post("/api/stories", json={"title": "Spy", "start": "door", "scenes": scenes})
    assert r.status_code == 201, r.text
    story = r.json()
    assert story["problems"] == [] and story["yoto_card_id"] is None and story["version"] == 1
    assert [s["id"] for s in mum.get("/api/stories").json()["items"]] == [story["id"]]
    kid = yapi.login(MEMBER)
    assert kid.get(f"/api/stories/{story['id']}").status_code == 404

    yoto_card_id = _made(mum, story["id"])
    card = yapi.sim_card(yoto_card_id)
    assert card["content"]["playbackType"] == "interactive"
    assert walk(card, ["left", "end"]) == ["The door", "The cave", "Home"]
    assert walk(card, ["right"]) == ["The door", "The sea"]
    assert every_ending(card) == {"Home": ["left", "end"], "The sea": ["right"]}
    # Nothing on the card points at this service: it plays with the service stopped.
    assert yapi.settings.public_url not in json.dumps(card)
    assert all(c["tracks"][0]["trackUrl"].startswith("yoto:#") for c in card["content"]["chapters"])

    swapped = [{**scenes[0], "left": "sea", "right": "cave"}, *scenes[1:]]
    body = {"title": "Spy", "start": "door", "scenes": swapped, "version": 1}
    r = mum.put(f"/api/stories/{story['id']}", json=body)
    assert r.status_code == 409, r.text  # naming its card moved the story on: the editor reloads
    body["version"] = mum.get(f"/api/stories/{story['id']}").json()["version"]
    r = mum.put(f"/api/stories/{story['id']}", json=body)
    assert r.status_code == 200 and r.json()["version"] == body["version"] + 1, r.text
    again = mum.post(f"/api/stories/{story['id']}/card")
    assert again.status_code == 200 and again.json()["yoto_card_id"] == yoto_card_id, again.text  # in place
    assert walk(yapi.sim_card(yoto_card_id), ["left"]) == ["The door", "The sea"]

    assert mum.delete(f"/api/stories/{story['id']}").status_code == 204
    assert mum.get(f"/api/stories/{story['id']}").status_code == 404
    assert yapi.sim_card(yoto_card_id)["deleted"] is True


def test_a_story_card_needs_audio_in_every_scene(yapi: YApi, mum: TestClient) -> None:
    scenes = [{"id": "a", "title": "A", "next": "b"}, {"id": "b", "title": "B", "ending": True}]
    story = mum.post("/api/stories", json={"title": "Draft", "start": "a", "scenes": scenes}).json()
    assert [p["kind"] for p in story["problems"]] == ["no_audio", "no_audio"]
    r = mum.post(f"/api/stories/{story['id']}/card")
    assert r.status_code == 409 and "these have none: a, b" in r.json()["detail"], r.text


@pytest.fixture
def roomy(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[YApi]:
    """Room for ten scenes on a card (the suite's cards hold five)."""
    built = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path, max_card_tracks=12)
    yield built
    close(built)


def test_a_twine_file_imports_spoken_and_its_card_reaches_every_ending(roomy: YApi) -> None:
    mum = _mum(roomy)
    r = mum.post("/api/stories/import", content=TEN.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    story = r.json()
    assert (story["title"], story["start"], len(story["scenes"])) == ("The Lost Fox", "Gate", 10)
    first = mum.get(f"/api/audio/{story['scenes'][0]['audio_id']}").json()
    assert first["title"] == "The Lost Fox: Gate" and first["duration_s"] > 1
    card = roomy.sim_card(_made(mum, story["id"]))
    assert set(every_ending(card)) == {"Frog", "Fox", "Home"}

    files = {"file": ("fox.twee", TEN.replace("[[Cave]]", "[[Cave->Den]]").encode(), "text/plain")}
    r = mum.post("/api/stories/import", files=files)
    assert r.status_code == 422 and r.json()["detail"] == "passage 'Path' links to 'Den', which is no passage"
    r = mum.post("/api/stories/import", content=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
    big = (":: Start\n" + "words " * 100_000).encode()  # 600 KB: past the import's own cap (TWEE_MAX_BYTES)
    assert mum.post("/api/stories/import", content=big, headers={"Content-Type": "text/plain"}).status_code == 413
