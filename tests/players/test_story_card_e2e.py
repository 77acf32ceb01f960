"""Issue 22's done-when on real parts: a four-scene story with one choice and two endings is
saved and made into its card through the API, the service is then closed, and a simulated
player (mosquitto, the fake Yoto cloud over HTTP) plays the card to each ending as the buttons
are pressed: the card holds Yoto-hosted audio and its own events, so nothing of ours is asked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from core.yoto import payloads as p
from simulator.cloud import RunningCloud
from simulator.players import PlayerSpec, start_players
from tests import yoto_sim
from tests.audio_fixtures import write_tone
from tests.brokers import Mosquitto
from tests.mqtt.conftest import Controller
from tests.simulator.test_simulated_players import Recorder, controller, device_id, last, recorder, values
from tests.yoto_api.conftest import ADMIN, build_yapi, close, link

__all__ = ["controller", "device_id", "recorder", "yoto_cloud"]
yoto_cloud = yoto_sim.yoto_cloud
SCENE_S = 6.0  # each scene's tone; the player runs at twice real time, so a choice has 3 s


def _finished(client: Any, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def _saved_story_card(settings: Settings, cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The story made through the API, which is closed before this answers the Yoto card id."""
    yapi = build_yapi(settings, cloud, monkeypatch, tmp_path)
    try:
        mum = yapi.login(ADMIN)
        link(mum)
        ids = []
        for title, freq in (("Door", 330), ("Cave", 440), ("Sea", 550), ("Home", 660)):
            src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=SCENE_S, freq=freq)
            ids.append(yapi.api.add_item(title=title, data=src.read_bytes()).id)
        scenes = [
            {"id": "door", "title": "The door", "audio_id": ids[0], "left": "cave", "right": "sea"},
            {"id": "cave", "title": "The cave", "audio_id": ids[1], "next": "home"},
            {"id": "sea", "title": "The sea", "audio_id": ids[2], "ending": True},
            {"id": "home", "title": "Home", "audio_id": ids[3], "ending": True},
        ]
        story = mum.post("/api/stories", json={"title": "Spy", "start": "door", "scenes": scenes}).json()
        r = mum.post(f"/api/stories/{story['id']}/card")
        assert r.status_code == 202, r.text
        assert _finished(mum, r.json()["run"]["id"])["status"] == "ok"
        return str(mum.get(f"/api/stories/{story['id']}").json()["yoto_card_id"])
    finally:
        close(yapi)


def test_a_saved_story_plays_to_both_endings_on_a_player_with_the_service_stopped(
    backend_settings: Settings,
    yoto_cloud: RunningCloud,
    mosquitto: Mosquitto,
    controller: Controller,
    recorder: Recorder,
    device_id: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    yoto_cloud.configure(transcode_delay_s=0)
    card_id = _saved_story_card(backend_settings, yoto_cloud, monkeypatch, tmp_path)
    yoto_cloud.add_device(device_id, "Story time", device_type="v3")
    spec = PlayerSpec(device_id, cloud=yoto_cloud, speed=2, sync_every_s=0.1)
    with start_players(mosquitto.config("tcp"), [spec], tick_s=0.02):
        assert controller.send(device_id, p.events_request()).ok
        for press, ending, path in (("left", "Home", ["01", "02", "04"]), ("right", "The sea", ["01", "03"])):
            recorder.events.clear()
            assert controller.send(device_id, p.play(card_id)).ok
            recorder.wait_for(lambda: last(recorder.events, "chapterKey") == "01")
            assert last(recorder.events, "chapterTitle") == "The door"
            pressed = yoto_cloud.press_button(device_id, press)
            assert pressed["chapter_key"] == path[1], pressed
            recorder.wait_for(lambda: values(recorder.events, "playbackStatus")[-1:] == ["stopped"], timeout=30)
            keys = values(recorder.events, "chapterKey")
            assert [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]] == path, keys
            assert last(recorder.events, "chapterTitle") == ending
