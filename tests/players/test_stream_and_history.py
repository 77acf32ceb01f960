"""Server-sent player changes, the on-demand wake-up, and the listening history."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from core.records import PlayerEvent, utcnow
from services import listener_health, listening
from simulator.players import PlayerSpec
from tests.players.conftest import Rig, admin, eventually


def test_the_stream_pushes_a_change_that_arrived_over_mqtt(rig: Rig, player_id: str) -> None:
    fleet = rig.players(PlayerSpec(player_id, battery=70))
    rig.start_listener()
    client = admin(rig)
    eventually(lambda: client.get(f"/api/players/{player_id}").json()["battery_percent"] == 70)
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def read() -> None:
        with client.stream("GET", "/api/players/stream") as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "player":
                    seen.append(json.loads(line.removeprefix("data: ")))
                    if seen[-1]["battery_percent"] == 33:
                        done.set()
                        return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    eventually(lambda: seen)  # the first snapshot
    assert seen[0]["id"] == player_id and seen[0]["battery_percent"] == 70
    fleet[player_id].set_battery(33)
    assert done.wait(5), seen[-3:]
    reader.join(5)


def test_the_stream_is_off_where_responses_cannot_stream(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rig.api.adapters, "settings", rig.api.settings.model_copy(update={"players_stream": False}))
    client = admin(rig)
    r = client.get("/api/players/stream")
    assert r.status_code == 404 and "poll GET /api/players every 3 s" in r.json()["detail"]
    assert client.get("/api/players").json()["stream"] is False


class CountingStarter:
    def __init__(self) -> None:
        self.starts = 0

    def start(self) -> None:
        self.starts += 1


def test_a_viewer_wakes_the_on_demand_listener_once(rig: Rig, player_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.players(PlayerSpec(player_id))
    starter = CountingStarter()
    monkeypatch.setattr(type(rig.api.adapters), "listener_starter", starter)
    client = admin(rig)
    for _ in range(3):
        assert client.get("/api/players").status_code == 200
    assert starter.starts == 1  # one start per wake lease, however many polls
    settings = rig.records.settings
    assert listener_health.idle_for_s(settings) < 5
    # a live listener that will run a while more is left alone; one about to end is replaced
    now = utcnow()
    health = {"accounts": ["family"], "connected_accounts": ["family"], "counts": {}}
    listener_health.write_heartbeat(settings, health, mode="on-demand", ends_at=now + timedelta(minutes=10))
    rig.records.counters.reset("mqtt-wake")
    assert listener_health.wake(settings, rig.records.counters, starter) is False
    listener_health.write_heartbeat(settings, health, mode="on-demand", ends_at=now + timedelta(seconds=20))
    assert listener_health.wake(settings, rig.records.counters, starter) is True
    assert starter.starts == 2


def test_an_idle_on_demand_handler_stops_by_itself(rig: Rig, player_id: str) -> None:
    from wiring import root_for

    root = root_for(rig.api.adapters)
    rig.players(PlayerSpec(player_id))
    listener_health.viewer_seen(rig.records.settings, utcnow() - timedelta(seconds=50))
    handler = root.listener_runner(
        root.listener(relist_every_s=0.3),
        mode="on-demand",
        ends_at=utcnow() + timedelta(seconds=30),
        idle_s=51,
        heartbeat_every_s=0.2,
    )
    assert handler.run() == "idle"
    assert listener_health.read_heartbeat(rig.records.settings) is None
    deadline = root.listener_runner(
        root.listener(relist_every_s=0.3),
        mode="on-demand",
        ends_at=utcnow() + timedelta(seconds=1),
        heartbeat_every_s=0.2,
    )
    assert deadline.run() == "deadline"


def test_history_counts_plays_and_minutes_per_card_and_track(rig: Rig, player_id: str) -> None:
    rig.players(PlayerSpec(player_id))
    t0 = utcnow() - timedelta(hours=10)

    def at(minutes: float, kind: str, **payload: Any) -> None:
        rig.records.players.add_event(PlayerEvent(player_id, t0 + timedelta(minutes=minutes), kind, payload))

    at(0, "events", cardId="c1", chapterKey="01", trackKey="01", trackTitle="One", playbackStatus="playing")
    at(3, "events", position=180)
    at(5, "events", trackKey="02", trackTitle="Two")  # 5 min of One, then Two starts
    at(6, "events", playbackStatus="paused")  # 1 min of Two
    at(20, "events", playbackStatus="playing")  # Two again: a second play
    at(22, "presence", online=False)  # 2 min more, then the player vanished
    at(30, "events", cardId="c2", chapterKey="01", trackKey="01", playbackStatus="playing")
    at(300, "events", position=5)  # hours of silence count at most MAX_GAP_S
    old = t0 - timedelta(days=10)
    rig.records.players.add_event(PlayerEvent(player_id, old, "events", {"cardId": "c9", "playbackStatus": "playing"}))

    r = admin(rig).get(f"/api/players/{player_id}/history", params={"days": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    c1 = next(c for c in body["cards"] if c["card_id"] == "c1")
    tracks = {t["track_key"]: t for t in c1["tracks"]}
    assert tracks["01"]["plays"] == 1 and tracks["01"]["minutes"] == 5.0 and tracks["01"]["track_title"] == "One"
    assert tracks["02"]["plays"] == 2 and tracks["02"]["minutes"] == 3.0
    c2 = next(c for c in body["cards"] if c["card_id"] == "c2")
    assert c2["minutes"] == round(2 * listening.MAX_GAP_S / 60, 1)
    assert "c9" not in {c["card_id"] for c in body["cards"]}
    assert body["plays"] == 4 and body["days"] == 7
    assert admin(rig).get(f"/api/players/{player_id}/history", params={"days": 0}).status_code == 422


def test_history_of_a_play_over_mqtt(rig: Rig, player_id: str) -> None:
    card = rig.card(chapters=1, tracks=1)
    rig.players(PlayerSpec(player_id, cards=[card], position_every_s=0.2))
    rig.start_listener()
    client = admin(rig)
    assert (
        client.post(f"/api/players/{player_id}/commands", json={"action": "play", "card_id": card.card_id}).status_code
        == 200
    )
    eventually(lambda: client.get(f"/api/players/{player_id}").json()["playback_status"] == "playing")
    body = eventually(lambda: (b := client.get(f"/api/players/{player_id}/history").json())["cards"] and b)
    assert body["cards"][0]["card_id"] == card.card_id and body["cards"][0]["plays"] == 1
