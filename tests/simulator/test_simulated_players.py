"""Simulated players with the fake cloud (issue 21): the day or night maximum volume of the config
caps volume commands; each track that starts is reported in its own events message, however fast
time runs; a Mini shows no night light; a test presses the buttons over `/_sim/` and reads what plays.

Real parts: mosquitto, the fake cloud over HTTP (in process, and as `python -m simulator`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.yoto.mqtt.transport import Transport
from core.yoto import payloads as p
from core.yoto.protocol import player_topic
from simulator.cloud import RemoteCloud, RemoteError, RunningCloud
from simulator.cloud.http import HttpError
from simulator.players import PlayerSpec, sample_card, start_players
from tests import yoto_sim
from tests.brokers import Mosquitto, mosquitto
from tests.mqtt.conftest import Controller

__all__ = ["mosquitto"]
yoto_cloud_process = yoto_sim.yoto_cloud_process
yoto_cloud_process_session = yoto_sim.yoto_cloud_process_session


class Recorder:
    """Every raw events and status message a player publishes, decoded, in arrival order; on the same
    connection a `Controller` sends commands (and waits for their acks) as the listener does."""

    def __init__(self, broker: Mosquitto, player_id: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.status: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._topics = {
            player_topic(player_id, "data/events"): self.events,
            player_topic(player_id, "data/status"): self.status,
        }
        self._transport = Transport(broker.config("tcp"), on_message=self._on_message)
        self.controller = Controller(self._transport)
        self._transport.connect()
        self._transport.subscribe(list(self._topics))

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic in self._topics:
            with self._changed:
                self._topics[topic].append(json.loads(payload))
                self._changed.notify_all()
        self.controller.on_message(topic, payload)

    def wait_for(self, check: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not seen within {timeout} s; last events {self.events[-4:]}")
                self._changed.wait(min(left, 0.1))

    def close(self) -> None:
        self._transport.close()


@pytest.fixture
def device_id() -> str:
    return f"sim-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def recorder(mosquitto: Mosquitto, device_id: str) -> Iterator[Recorder]:
    watching = Recorder(mosquitto, device_id)
    yield watching
    watching.close()


@pytest.fixture
def controller(recorder: Recorder) -> Controller:
    return recorder.controller


def hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def last(events: list[dict[str, Any]], key: str) -> Any:
    return next((e[key] for e in reversed(events) if key in e), None)


def values(events: list[dict[str, Any]], key: str) -> list[Any]:
    """`key`'s value in each message that carries it, in order."""
    return [e[key] for e in events if key in e]


def test_volume_commands_are_capped_at_the_day_and_the_night_maximum_of_the_config(
    yoto_cloud: RunningCloud, mosquitto: Mosquitto, controller: Controller, recorder: Recorder, device_id: str
) -> None:
    yoto_cloud.add_device(device_id, "Limited", device_type="v3")
    now = yoto_cloud.state.clock.now()  # the player's local time: the cloud's clock, utcOffset 0
    day_and_night = {"dayTime": hhmm(now - 3600), "nightTime": hhmm(now + 3600)}
    yoto_cloud.seed_config(device_id, {**day_and_night, "maxVolumeLimit": "8", "nightMaxVolumeLimit": "4"})
    spec = PlayerSpec(device_id, cloud=yoto_cloud, sync_every_s=0.1)
    with start_players(mosquitto.config("tcp"), [spec], tick_s=0.05) as fleet:
        player = fleet[device_id]
        assert controller.send(device_id, p.events_request()).ok
        assert controller.send(device_id, p.volume(100)).ok
        assert (player.snapshot()["volume_level"], player.snapshot()["volume_max"]) == (8, 8)
        recorder.wait_for(lambda: (last(recorder.events, "volume"), last(recorder.events, "volumeMax")) == (8, 8))
        assert controller.send(device_id, p.volume(25)).ok
        assert player.snapshot()["volume_level"] == 4, "below the limit a volume is as asked (25% is step 4)"

        yoto_cloud.advance(2 * 3600)  # past nightTime
        recorder.wait_for(lambda: last(recorder.events, "volumeMax") == 4)
        assert last(recorder.events, "volume") == 4
        assert controller.send(device_id, p.volume(100)).ok
        assert player.snapshot()["volume_level"] == 4 and player.snapshot()["day"] is False
        assert controller.send(device_id, p.status_request()).ok
        recorder.wait_for(lambda: recorder.status and recorder.status[-1]["status"]["day"] == 0)

        # the service's PUT (the whole block) takes effect at the next volume command, without waiting
        config = yoto_cloud.device_config(device_id) | {"nightMaxVolumeLimit": "6"}
        yoto_cloud.state.devices.write_config(device_id, yoto_cloud.state.login_account, {"config": config})
        assert controller.send(device_id, p.volume(100)).ok
        assert player.snapshot()["volume_level"] == 6
        recorder.wait_for(lambda: (last(recorder.events, "volume"), last(recorder.events, "volumeMax")) == (6, 6))

        yoto_cloud.seed_config(device_id, {"nightMaxVolumeLimit": "0"})  # silent at night
        assert controller.send(device_id, p.volume(50)).ok
        assert (player.snapshot()["volume_level"], player.snapshot()["volume"]) == (0, 0)
        assert controller.send(device_id, p.status_request()).ok
        recorder.wait_for(lambda: recorder.status[-1]["status"]["userVolume"] == 0)


def test_each_track_that_starts_is_reported_with_its_keys_and_the_end_of_the_card_as_stopped(
    mosquitto: Mosquitto, controller: Controller, recorder: Recorder, device_id: str
) -> None:
    card = sample_card("tc", chapters=2, tracks=2, length_s=1.0)
    # 2.5 s of playback a tick: one tick crosses two tracks
    spec = PlayerSpec(device_id, cards=[card], speed=50, position_every_s=60)
    with start_players(mosquitto.config("tcp"), [spec], tick_s=0.05):
        assert controller.send(device_id, p.events_request()).ok
        assert controller.send(device_id, p.play("tc", chapter=1, track=1)).ok
        recorder.wait_for(lambda: values(recorder.events, "playbackStatus")[-2:] == ["playing", "stopped"])
    starts = [e for e in recorder.events if "trackKey" in e]
    assert [e["trackKey"] for e in starts] == ["01", "02", "03", "04"]
    for event, title in zip(starts, ("Track 1", "Track 2", "Track 3", "Track 4"), strict=True):
        assert event["trackTitle"] == title and event["trackLength"] == 1 and 0 <= event["position"] <= 1
    assert [e.get("chapterKey") for e in starts] == ["01", None, "02", None], "chapterKey when the chapter changes"
    assert starts[2]["chapterTitle"] == "Chapter 2"
    end = recorder.events[-1]
    assert end["playbackStatus"] == "stopped" and "trackKey" not in end, "the end of the card: its own message"
    assert all(e.get("playbackStatus") in (None, "playing") for e in starts[1:]), "tracks start playing"


def test_with_repeat_all_in_the_config_the_card_starts_again_at_its_end(
    yoto_cloud: RunningCloud, mosquitto: Mosquitto, controller: Controller, recorder: Recorder, device_id: str
) -> None:
    yoto_cloud.add_device(device_id, "Looping", device_type="v3")
    yoto_cloud.seed_config(device_id, {"repeatAll": True})
    card = sample_card("rp", chapters=1, tracks=2, length_s=1.0)
    spec = PlayerSpec(device_id, cards=[card], cloud=yoto_cloud, speed=10, sync_every_s=0.1)
    with start_players(mosquitto.config("tcp"), [spec], tick_s=0.05):
        assert controller.send(device_id, p.events_request()).ok
        assert controller.send(device_id, p.play("rp", chapter=1, track=1)).ok
        recorder.wait_for(lambda: values(recorder.events, "trackKey")[:5] == ["01", "02", "01", "02", "01"])
        assert "stopped" not in values(recorder.events, "playbackStatus")[1:]
        assert last(recorder.events, "repeatAll") is True

        yoto_cloud.seed_config(device_id, {"repeatAll": "0"})  # as the Yoto app would write it off
        recorder.wait_for(lambda: values(recorder.events, "playbackStatus")[-1] == "stopped")
        assert last(recorder.events, "repeatAll") is False


def test_a_mini_acknowledges_a_night_light_colour_and_shows_none(
    mosquitto: Mosquitto, controller: Controller, recorder: Recorder, device_id: str
) -> None:
    v3_id = f"{device_id}-v3"
    specs = [PlayerSpec(device_id, model="mini"), PlayerSpec(v3_id, model="v3")]
    with start_players(mosquitto.config("tcp"), specs) as fleet:
        for player_id in (device_id, v3_id):
            assert controller.send(player_id, p.ambient("#ff8000")).ok, "both acknowledge it"
        assert fleet[v3_id].snapshot()["ambient"] == (255, 128, 0)
        assert fleet[device_id].snapshot()["ambient"] == (0, 0, 0)
        recorder.wait_for(lambda: len(recorder.status) >= 2)  # at start, then after the command
        assert recorder.status[-1]["status"]["nightlightMode"] == "off"
        assert recorder.status[-1]["status"]["productType"] == "mini"


def test_a_test_presses_the_buttons_over_sim_and_reads_what_plays(
    yoto_cloud_process: RemoteCloud, mosquitto: Mosquitto, controller: Controller, recorder: Recorder, device_id: str
) -> None:
    cloud = yoto_cloud_process
    cloud.add_device(device_id, "Buttons", device_type="v3")
    card = sample_card("bt", chapters=2, tracks=2, length_s=600)
    spec = PlayerSpec(device_id, cards=[card], cloud=cloud, sync_every_s=0.2)
    with start_players(mosquitto.config("tcp"), [spec]) as fleet:
        assert controller.send(device_id, p.events_request()).ok
        assert controller.send(device_id, p.play("bt", chapter=1, track=1, seconds_in=30)).ok
        playing = cloud.press_button(device_id, "right")
        assert (playing["chapter_key"], playing["track_key"], playing["position_s"]) == ("01", "02", 0.0)
        assert playing["playback_status"] == "playing" and playing["track_title"] == "Track 2"
        recorder.wait_for(lambda: last(recorder.events, "trackKey") == "02")

        playing = cloud.press_button(device_id, "right")
        assert (playing["chapter_key"], playing["track_key"]) == ("02", "03")
        recorder.wait_for(lambda: [last(recorder.events, k) for k in ("chapterKey", "trackKey")] == ["02", "03"])
        assert cloud.press_button(device_id, "left")["track_key"] == "02"
        recorder.wait_for(lambda: last(recorder.events, "trackKey") == "02")
        assert cloud.press_button(device_id, "left")["track_key"] == "01"
        assert cloud.press_button(device_id, "left")["track_key"] == "01", "at the first track: from its start"

        read = cloud.playing(device_id)
        assert read["playing"]["track_key"] == fleet[device_id].snapshot()["track_key"] == "01"
        assert read["playing"]["card_id"] == "bt" and isinstance(read["reported_at"], float)
        with pytest.raises(RemoteError) as refused:
            cloud.press_button(device_id, "up")
        assert refused.value.status == 400 and "left, right" in str(refused.value)
        with pytest.raises(RemoteError) as unknown:
            cloud.press_button("no-such-player", "left")
        assert unknown.value.status == 404


def test_a_press_no_player_takes_is_a_504_and_never_applied_later(yoto_cloud: RunningCloud) -> None:
    lonely = yoto_cloud.state.devices.all()[0].device_id
    with pytest.raises(HttpError) as waited:
        yoto_cloud.state.links.press(lonely, "right", timeout_s=0.2)
    assert waited.value.status == 504
    answer = yoto_cloud.player_sync(lonely, {"playing": {"track_key": None}, "applied": []})
    assert answer["presses"] == [], "the press that timed out is withdrawn"
    with pytest.raises(HttpError) as never:
        yoto_cloud.playing("no-such-player")
    assert never.value.status == 404
