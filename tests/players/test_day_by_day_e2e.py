"""Issue 22's day-by-day done-when on real parts: a playlist card made through the API with
one chapter a day from a date in London, the service then closed, and a simulated player
(mosquitto, the fake Yoto cloud over HTTP) that keeps each chapter shut until its midnight on
the family's clock, summer time's start included, as the cloud's clock is moved on."""

from __future__ import annotations

import time
from datetime import UTC, datetime
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
from tests.simulator.test_simulated_players import Recorder, controller, device_id, last, recorder
from tests.yoto_api.conftest import ADMIN, build_yapi, close, link

__all__ = ["controller", "device_id", "recorder", "yoto_cloud"]
yoto_cloud = yoto_sim.yoto_cloud
FIRST = "2027-03-27"  # London's clocks go forward at 01:00 on the 28th


def _advent_card(settings: Settings, cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Three nights, one a day from FIRST, in Yoto's storage; the API is closed before this answers."""
    yapi = build_yapi(settings, cloud, monkeypatch, tmp_path, family_timezone="Europe/London")
    try:
        mum = yapi.login(ADMIN)
        link(mum)
        ids = []
        for n, freq in ((1, 330), (2, 440), (3, 550)):
            src = write_tone(tmp_path / f"night{n}.mp3", "mp3", seconds=2.0, freq=freq)
            ids.append(yapi.api.add_item(title=f"Night {n}", data=src.read_bytes()).id)
        made = mum.post("/api/playlists", json={"name": "Countdown", "audio_ids": ids, "storage": "yoto"}).json()
        r = mum.post(f"/api/playlists/{made['id']}/card", json={"opens": {"from": FIRST, "every": "day"}})
        assert r.status_code == 201, r.text
        return str(r.json()["yoto_card_id"])
    finally:
        close(yapi)


def _move_clock_to(cloud: RunningCloud, when: datetime) -> None:
    cloud.advance(max(0.0, when.timestamp() - cloud.state.clock.now()))


def _plays(controller: Controller, recorder: Recorder, device_id: str, card_id: str, chapter: int) -> bool:
    recorder.events.clear()
    if not controller.send(device_id, p.play(card_id, chapter=chapter)).ok:
        return False
    recorder.wait_for(lambda: last(recorder.events, "chapterKey") == f"{chapter:02d}")
    return True


def test_chapter_n_opens_at_midnight_of_day_n_in_london_across_the_change_to_summer_time(
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
    card_id = _advent_card(backend_settings, yoto_cloud, monkeypatch, tmp_path)
    chapters: list[Any] = (yoto_cloud.card(card_id) or {})["content"]["chapters"]
    assert [c["availableFrom"] for c in chapters] == [
        "2027-03-27T00:00:00.000Z",
        "2027-03-28T00:00:00.000Z",
        "2027-03-28T23:00:00.000Z",  # midnight of the 29th in summer time
    ]
    yoto_cloud.add_device(device_id, "Bedroom", device_type="v3")
    spec = PlayerSpec(device_id, cloud=yoto_cloud, speed=4, sync_every_s=0.1)
    with start_players(mosquitto.config("tcp"), [spec], tick_s=0.02):
        assert controller.send(device_id, p.events_request()).ok
        _move_clock_to(yoto_cloud, datetime(2027, 3, 27, 12, 0, tzinfo=UTC))
        assert _plays(controller, recorder, device_id, card_id, 1)
        assert not _plays(controller, recorder, device_id, card_id, 2)  # tomorrow's
        _move_clock_to(yoto_cloud, datetime(2027, 3, 28, 22, 30, tzinfo=UTC))  # 23:30 in London, summer time
        assert _plays(controller, recorder, device_id, card_id, 2)
        assert not _plays(controller, recorder, device_id, card_id, 3)
        _move_clock_to(yoto_cloud, datetime(2027, 3, 28, 23, 1, tzinfo=UTC))  # 00:01 on the 29th in London
        time.sleep(0.3)  # the player's next sync brings the cloud's clock
        assert _plays(controller, recorder, device_id, card_id, 3)
