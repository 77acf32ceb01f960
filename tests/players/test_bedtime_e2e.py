"""Sleep at the end of the track or chapter, end to end: the API records it, the real
listener (in-process, on mosquitto) sees the simulated player's track change and pauses
it; where no listener runs the API refuses it and says so in the player list."""

from __future__ import annotations

import time
from typing import Any

from simulator.players import PlayerSpec, SimCard, SimulatedPlayer, sample_card
from tests.players.conftest import Rig, admin, eventually


def player(client: Any, player_id: str) -> dict[str, Any]:
    r = client.get(f"/api/players/{player_id}")
    assert r.status_code == 200, r.text
    return r.json()


def paused_at(sim: SimulatedPlayer, timeout: float) -> dict[str, Any]:
    """The player's state the moment it stops playing (checked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = sim.snapshot()
        if snap["playback_status"] != "playing":
            return snap
        time.sleep(0.02)
    raise AssertionError(f"still playing after {timeout} s: {sim.snapshot()}")


def pauses(sim: SimulatedPlayer) -> int:
    return sum(1 for family, _ in sim.received if family == "card/pause")


def command(client: Any, player_id: str, **body: Any) -> Any:
    return client.post(f"/api/players/{player_id}/commands", json=body)


def playing(rig: Rig, player_id: str, card: SimCard, **where: int) -> tuple[SimulatedPlayer, Any]:
    """The simulated player with `card`, the listener running, the card playing from `where`
    as the API shows it; answers the player and an admin's client."""
    sim = rig.players(PlayerSpec(player_id, cards=[card]))[player_id]
    rig.start_listener()
    client = admin(rig)
    eventually(lambda: player(client, player_id)["online"])
    r = command(client, player_id, action="play", card_id=card.card_id, **where)
    assert r.status_code == 200, r.text
    first = sim.snapshot()["track_key"]
    eventually(lambda: (p := player(client, player_id))["track_key"] == first and p["playback_status"] == "playing")
    return sim, client


def test_on_track_2_of_3_the_player_is_paused_within_2_s_of_track_3_starting(rig: Rig, player_id: str) -> None:
    sim, client = playing(rig, player_id, sample_card("bed3", chapters=1, tracks=3, length_s=4.0), track=2)
    assert client.get("/api/players").json()["sleep_at_end"] == {"available": True, "reason": None}
    r = command(client, player_id, action="sleep_timer", at_end_of="track")
    assert r.status_code == 200, r.text
    assert r.json()["at_end_of"] == "track" and r.json()["via"] == "listener" and r.json()["elapsed_ms"] == 0
    assert sim.snapshot()["track_key"] == "02" and pauses(sim) == 0  # nothing sent yet

    snap = paused_at(sim, timeout=8.0)
    # paused on track 3 (never during track 2), at most 2 s of playback into it
    assert snap["track_key"] == "03" and snap["playback_status"] == "paused", snap
    assert snap["position_s"] < 2.0, snap
    assert pauses(sim) == 1
    eventually(lambda: player(client, player_id)["playback_status"] == "paused")
    assert not [k for k in rig.records.settings.list_keys() if k.startswith("sleep-at-end:")]  # done with


def test_at_the_end_of_the_chapter_a_track_change_inside_it_does_not_pause(rig: Rig, player_id: str) -> None:
    card = sample_card("bed4", chapters=2, tracks=2, length_s=2.5)  # chapter 1: tracks 01, 02; chapter 2: 03, 04
    sim, client = playing(rig, player_id, card, chapter=1)
    r = command(client, player_id, action="sleep_timer", at_end_of="chapter")
    assert r.status_code == 200, r.text

    snap = paused_at(sim, timeout=10.0)
    assert (snap["chapter_key"], snap["track_key"], snap["playback_status"]) == ("02", "03", "paused"), snap
    assert snap["position_s"] < 2.0, snap
    assert pauses(sim) == 1


def test_a_timer_in_minutes_replaces_a_sleep_at_the_end(rig: Rig, player_id: str) -> None:
    sim, client = playing(rig, player_id, sample_card("bed5", chapters=1, tracks=2, length_s=3.0), track=1)
    assert command(client, player_id, action="sleep_timer", at_end_of="track").is_success
    assert command(client, player_id, action="sleep_timer", minutes=30).is_success
    eventually(lambda: sim.snapshot()["track_key"] == "02", timeout=8.0)
    time.sleep(1.0)  # longer than the listener takes to pause (see above)
    assert sim.snapshot()["playback_status"] == "playing" and pauses(sim) == 0


def test_with_no_listener_the_api_refuses_it_and_says_so(rig: Rig, player_id: str) -> None:
    card = sample_card("bed6", chapters=1, tracks=2)
    sim = rig.players(PlayerSpec(player_id, cards=[card]))[player_id]
    client = admin(rig)
    listed = client.get("/api/players").json()
    assert listed["sleep_at_end"]["available"] is False and "mqttMode off" in listed["sleep_at_end"]["reason"]
    r = command(client, player_id, action="sleep_timer", at_end_of="track")
    assert r.status_code == 409 and "no MQTT listener is running" in r.json()["detail"], r.text
    for body in (
        {"action": "sleep_timer", "at_end_of": "story"},
        {"action": "sleep_timer", "at_end_of": "track", "minutes": 5},
        {"action": "sleep_timer"},
    ):
        assert command(client, player_id, **body).status_code == 422, body
    assert sim.received == []
