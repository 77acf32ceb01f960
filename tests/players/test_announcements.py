"""Announcements end to end on real parts: mosquitto, simulated players and the fake Yoto
cloud over HTTP, with the API and the listener either as the players rig has them (TestClient,
the listener in the root's in-process slot; PUBLIC_URL is a laptop's http, so the card lives in
Yoto's storage and the answer is 202 with the run) or as `make run` has them (uvicorn, whose
lifespan starts the listener; PUBLIC_URL its own address, vouched for, so the card streams and
the request answers 200 once every player is back)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from simulator.cloud import RunningCloud
from simulator.players import PlayerSpec, SimulatedPlayer, sample_card, start_players
from tests.api.conftest import ADMIN, MEMBER
from tests.api.linked_family import linked_family
from tests.brokers import Mosquitto
from tests.players.conftest import ACCOUNT, Rig, admin, eventually

STORY = "story7"


class Sampler:
    """Reads a simulated player's true state every 20 ms, each sample with its monotonic time."""

    def __init__(self, player: SimulatedPlayer) -> None:
        self.player = player
        self.samples: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.samples.append((time.monotonic(), self.player.snapshot()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def around(self, card: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """(the last sample on `card` before another card played, the first on `card` after it,
        the samples in between)."""
        shots = [s for _, s in self.samples]
        first_other = next(i for i, s in enumerate(shots) if s["card_id"] not in (card, None))
        back = next(i for i in range(first_other, len(shots)) if shots[i]["card_id"] == card)
        return shots[first_other - 1], shots[back], shots[first_other:back]


@pytest.fixture
def players_up(rig: Rig, player_id: str) -> Iterator[tuple[str, str]]:
    rig.cloud.configure(transcode_delay_s=0.3)
    idle = f"{player_id}-b"
    story = sample_card(STORY, chapters=3, tracks=2, length_s=600)
    specs = [PlayerSpec(pid, cards=[story], cloud=rig.cloud, account=ACCOUNT) for pid in (player_id, idle)]
    rig.players(*specs)
    rig.start_listener()
    yield player_id, idle


def _finished(client: Any, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end: {run}")


def test_an_announcement_puts_a_playing_player_back_within_2_s_and_leaves_an_idle_one_idle(
    rig: Rig, players_up: tuple[str, str]
) -> None:
    playing, idle = players_up
    mum = admin(rig)
    r = mum.post(
        f"/api/players/{playing}/commands",
        json={"action": "play", "card_id": STORY, "chapter": 2, "track": 3, "seconds_in": 30},
    )
    assert r.status_code == 200, r.text
    eventually(lambda: mum.get(f"/api/players/{playing}").json()["track_key"] == "03")
    eventually(lambda: mum.get(f"/api/players/{idle}").json()["heard_at"] is not None)
    fleet = rig.fleets[0]
    watch_playing, watch_idle = Sampler(fleet[playing]), Sampler(fleet[idle])
    try:
        r = mum.post("/api/announcements", json={"text": "Dinner in five minutes", "player_ids": [playing, idle]})
        assert r.status_code == 202, r.text
        queued = r.json()["run"]
        assert queued["kind"] == "announcement"
        run = _finished(mum, queued["id"])
        time.sleep(0.3)  # a few samples after the last command
    finally:
        watch_playing.stop()
        watch_idle.stop()

    assert run["status"] == "ok", run
    results = {p["player_id"]: p for p in run["results"]}
    assert results[playing]["outcome"] == "resumed" and results[playing]["ended_by"] == "events", results
    assert results[idle]["outcome"] == "stayed_idle", results

    before, after, between = watch_playing.around(STORY)
    assert {s["card_id"] for s in between} == {between[0]["card_id"]}, "one announcement card, then the story"
    assert any(s["playback_status"] == "playing" for s in between), "the announcement played"
    assert (after["chapter_key"], after["track_key"]) == (before["chapter_key"], before["track_key"]) == ("02", "03")
    assert after["playback_status"] == "playing"
    print(f"story at {before['position_s']:.2f} s before, {after['position_s']:.2f} s after")
    assert abs(after["position_s"] - before["position_s"]) <= 2.0, (before, after)
    assert results[playing]["resumed_to"]["card_id"] == STORY

    announced = [s for _, s in watch_idle.samples if s["card_id"] == between[0]["card_id"]]
    assert any(s["playback_status"] == "playing" for s in announced), "the idle player spoke it too"
    assert watch_idle.samples[-1][1]["playback_status"] != "playing", "and was left idle"


def test_a_player_the_caller_may_not_use_is_404_and_nothing_is_spoken(rig: Rig, players_up: tuple[str, str]) -> None:
    playing, _ = players_up
    mum = admin(rig)
    assert mum.put(f"/api/players/{playing}/private", json={"private": True}).status_code == 200
    kid = rig.api.login(MEMBER)
    r = kid.post("/api/announcements", json={"text": "Hello", "player_ids": [playing]})
    assert r.status_code == 404, r.text
    assert kid.get("/api/tts/quota").json()["remaining_today"] == kid.get("/api/tts/quota").json()["daily_chars"]
    assert mum.post("/api/announcements", json={"text": "  ", "player_ids": [playing]}).status_code == 422
    assert mum.post("/api/announcements", json={"text": "Hi", "player_ids": []}).status_code == 422


def test_make_run_streams_the_announcement_and_answers_once_the_player_is_back(
    backend_settings: Settings, cloud: RunningCloud, mosquitto: Mosquitto, tmp_path: Path, player_id: str
) -> None:
    broker = mosquitto.config("tcp")
    yoto_account = "mum-yoto"
    cloud.add_device(player_id, "Lounge", account=yoto_account)
    story = sample_card(STORY, chapters=3, tracks=2, length_s=600)
    mqtt = {"mqtt_host": broker.host, "mqtt_port": broker.port, "mqtt_transport": "tcp", "mqtt_tls": False}
    with linked_family(backend_settings, cloud, tmp_path, mqtt_enabled=True, **mqtt) as family:
        mum = family.login(ADMIN)
        family.link(mum, yoto_account)
        fleet = start_players(broker, [PlayerSpec(player_id, cards=[story], cloud=cloud, account=yoto_account)])
        try:
            eventually(lambda: mum.get("/api/health/mqtt").json()["connected_accounts"] == 1, timeout=40)
            r = mum.post(
                f"/api/players/{player_id}/commands",
                json={"action": "play", "card_id": STORY, "chapter": 2, "track": 3, "seconds_in": 30},
            )
            assert r.status_code == 200, r.text
            eventually(lambda: mum.get(f"/api/players/{player_id}").json()["track_key"] == "03", timeout=10)
            watch = Sampler(fleet[player_id])
            try:
                r = mum.post("/api/announcements", json={"text": "Dinner in five minutes"})
                time.sleep(0.3)
            finally:
                watch.stop()
        finally:
            fleet.stop()
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["run"]["status"] == "ok" and answer["run"]["kind"] == "announcement"
    (outcome,) = answer["players"]
    assert (outcome["player_id"], outcome["outcome"], outcome["ended_by"]) == (player_id, "resumed", "events")
    before, after, between = watch.around(STORY)
    assert any(s["playback_status"] == "playing" for s in between), "the streamed announcement played"
    assert (after["chapter_key"], after["track_key"]) == (before["chapter_key"], before["track_key"]) == ("02", "03")
    print(f"streamed: story at {before['position_s']:.2f} s before, {after['position_s']:.2f} s after")
    assert abs(after["position_s"] - before["position_s"]) <= 2.0, (before, after)
