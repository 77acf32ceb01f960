"""`/api/players*` end to end: the API, the in-process listener, mosquitto, simulated
players and the fake Yoto cloud, on both adapter sets ([local], [aws])."""

from __future__ import annotations

from typing import Any

from core.yoto.protocol import volume_step
from core.yoto.state import API_FIELDS
from simulator.players import PlayerSpec, SimCard, SimChapter, SimTrack
from tests.players.conftest import ACCOUNT, Rig, admin, eventually, link

FIELDS = {"name", "heard_at", "stale", "owner", "private", *API_FIELDS}  # id, name, online, volume … stale, owner


def player(client: Any, player_id: str) -> dict[str, Any]:
    r = client.get(f"/api/players/{player_id}")
    assert r.status_code == 200, r.text
    return r.json()


def command(client: Any, player_id: str, **body: Any) -> Any:
    return client.post(f"/api/players/{player_id}/commands", json=body)


def test_the_list_merges_the_rest_names_with_state_that_arrived_over_mqtt(rig: Rig, player_id: str) -> None:
    rig.players(PlayerSpec(player_id, battery=64))
    client = admin(rig)
    listed = client.get("/api/players").json()
    assert [p["id"] for p in listed["items"]] == [player_id]
    assert set(listed["items"][0]) == FIELDS
    assert listed["items"][0]["name"] == f"Player {player_id}"
    assert listed["items"][0]["stale"] is True and listed["items"][0]["heard_at"] is None  # nothing heard yet
    assert listed["live"] is False and listed["stream"] is True and listed["poll_interval_s"] == 3

    rig.start_listener()
    shown = eventually(lambda: (p := player(client, player_id))["battery_percent"] == 64 and p)
    assert shown["online"] is True and shown["playback_status"] == "stopped" and shown["volume"] == volume_step(50)
    assert shown["stale"] is False and shown["heard_at"] is not None
    # the full status is asked for over MQTT; until it comes the REST shadow's values show
    full = eventually(lambda: (p := player(client, player_id))["ssid"] == "simulated" and p)
    assert (full["wifi_strength_dbm"], full["temperature_c"]) == (-50, 24)
    assert client.get("/api/players").json()["live"] is True
    health = eventually(lambda: (h := client.get("/api/health/mqtt").json())["counts"].get("status", 0) >= 1 and h)
    assert health["status"] == "ok" and health["live"] is True and health["mode"] == "in-process"
    assert health["accounts"] == 1 and health["connected_accounts"] == 1


def test_every_command_over_the_listener(rig: Rig, player_id: str) -> None:
    card = rig.card(chapters=3, tracks=2)
    fleet = rig.players(PlayerSpec(player_id, cards=[card]))
    sim = fleet[player_id]
    rig.start_listener()
    client = admin(rig)
    eventually(lambda: player(client, player_id)["online"])

    def ok(**body: Any) -> dict[str, Any]:
        r = command(client, player_id, **body)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["via"] == "listener"
        return r.json()

    ok(action="play", card_id=card.card_id, chapter=2, seconds_in=30)
    assert sim.snapshot()["chapter_key"] == "02"
    shown = eventually(lambda: (p := player(client, player_id))["chapter_key"] == "02" and p)
    assert shown["playback_status"] == "playing" and shown["card_id"] == card.card_id
    assert shown["chapter_title"] == "Chapter 2" and shown["position_s"] >= 30

    for action, expected in (("pause", "paused"), ("resume", "playing"), ("stop", "stopped")):
        ok(action=action)
        eventually(lambda e=expected: player(client, player_id)["playback_status"] == e)

    ok(action="volume", volume=48)
    eventually(lambda: player(client, player_id)["volume"] == volume_step(48))
    ok(action="sleep_timer", minutes=2)
    eventually(lambda: 100 <= (player(client, player_id)["sleep_timer_s"] or 0) <= 120)
    ok(action="sleep_timer", minutes=0)
    eventually(lambda: player(client, player_id)["sleep_timer_s"] == 0)
    ok(action="ambient", hex="#ff8000")
    assert sim.snapshot()["ambient"] == (255, 128, 0)
    ok(action="ambient", r=1, g=2, b=3)
    assert sim.snapshot()["ambient"] == (1, 2, 3)

    # next / previous: from the state that came back and the card's chapters on the cloud
    ok(action="play", card_id=card.card_id, chapter=1)
    eventually(lambda: player(client, player_id)["chapter_key"] == "01")
    ok(action="next")
    eventually(lambda: player(client, player_id)["chapter_key"] == "02")
    ok(action="previous")
    eventually(lambda: player(client, player_id)["chapter_key"] == "01")
    r = command(client, player_id, action="previous")
    assert r.status_code == 409 and "first chapter" in r.json()["detail"]

    sim.set_battery(42, charging=True)
    ok(action="status")
    eventually(lambda: (p := player(client, player_id))["battery_percent"] == 42 and p["charging"] is True)


def test_commands_work_with_no_listener_running(rig: Rig, player_id: str) -> None:
    card = rig.card(chapters=2, tracks=1)
    fleet = rig.players(PlayerSpec(player_id, cards=[card]))
    client = admin(rig)
    r = command(client, player_id, action="play", card_id=card.card_id, chapter=2)
    assert r.status_code == 200, r.text
    assert r.json()["via"] == "short-lived"
    assert fleet[player_id].snapshot()["chapter_key"] == "02"
    assert command(client, player_id, action="volume", volume=100).json()["via"] == "short-lived"
    assert fleet[player_id].snapshot()["volume"] == 100
    # nothing is playing as far as the records know (no listener): next cannot be computed
    r = command(client, player_id, action="next")
    assert r.status_code == 409 and "no card" in r.json()["detail"]


def test_invalid_commands_are_refused_before_anything_is_published(rig: Rig, player_id: str) -> None:
    fleet = rig.players(PlayerSpec(player_id))
    client = admin(rig)
    bad = [
        {"action": "volume", "volume": 101},
        {"action": "volume", "volume": "50"},
        {"action": "volume"},
        {"action": "sleep_timer", "minutes": -1},
        {"action": "ambient", "hex": "#ff80"},
        {"action": "ambient", "hex": "#ff8000", "r": 1},
        {"action": "ambient", "r": 1, "g": 2},
        {"action": "play", "card_id": "bad id!"},
        {"action": "play", "card_id": "c1", "chapter": 0},
        {"action": "play", "card_id": "c1", "chapter": None},
        {"action": "pause", "extra": 1},
        {"action": "dance"},
        {},
    ]
    for body in bad:
        r = command(client, player_id, **body)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], str)
    assert fleet[player_id].received == []
    assert client.get("/api/players/no-such-player").status_code == 404
    assert command(client, "no-such-player", action="pause").status_code == 404
    assert client.get("/api/players/bad%20id").status_code == 422


def test_player_faults_answer_502_504_and_409(rig: Rig, player_id: str) -> None:
    fleet = rig.players(PlayerSpec(player_id))
    sim = fleet[player_id]
    rig.start_listener()
    client = admin(rig)
    eventually(lambda: player(client, player_id)["online"])

    sim.reject("volume/set", reason="volume locked by a grown-up")
    r = command(client, player_id, action="volume", volume=20)
    assert r.status_code == 502
    assert "volume locked by a grown-up" in r.json()["detail"] and r.json()["reason"] == "volume locked by a grown-up"
    sim.accept()

    sim.silent = True
    r = command(client, player_id, action="pause")
    assert r.status_code == 504 and "did not acknowledge" in r.json()["detail"]
    sim.silent = False

    sim.send_garbage()
    assert command(client, player_id, action="volume", volume=30).status_code == 200
    eventually(lambda: client.get("/api/health/mqtt").json()["counts"].get("malformed", 0) >= 6)

    sim.go_offline()
    eventually(lambda: player(client, player_id)["online"] is False)
    received = len(sim.received)
    r = command(client, player_id, action="pause")
    assert r.status_code == 409 and "offline" in r.json()["detail"]
    assert r.elapsed.total_seconds() < 0.5
    assert len(sim.received) == received
    sim.come_online()
    eventually(lambda: player(client, player_id)["online"] is True)
    assert command(client, player_id, action="volume", volume=40).status_code == 200


def test_accounts_linked_and_unlinked_while_running(rig: Rig, player_id: str) -> None:
    rig.players(PlayerSpec(player_id))
    handler = rig.start_listener()
    second = f"{player_id}-b"
    fleet = rig.players(PlayerSpec(second), account="granny")
    client = admin(rig)
    assert [p["id"] for p in client.get("/api/players").json()["items"]] == [player_id]
    link(rig.api.settings, rig.records, rig.cloud, "granny")
    eventually(lambda: sorted(handler.listener.health()["connected_accounts"]) == [ACCOUNT, "granny"])
    eventually(lambda: player(client, second)["battery_percent"] == 80)
    assert command(client, second, action="pause").json()["via"] == "listener"
    rig.records.tokens.delete("granny")
    eventually(lambda: handler.listener.health()["connected_accounts"] == [ACCOUNT])
    assert fleet[second].online


def test_a_family_of_three_players_one_a_mini_is_all_live_and_every_command_acknowledged(
    rig: Rig, player_id: str
) -> None:
    """What a new family with three players meets on day one: every player live, and
    every command of every family answered (the card ones under the key `card`)."""
    card = rig.card(chapters=3, tracks=1)
    ids = [f"{player_id}-{n}" for n in ("bedroom", "mini", "playroom")]
    specs = [PlayerSpec(ids[0], cards=[card]), PlayerSpec(ids[1], cards=[card], model="mini"), PlayerSpec(ids[2])]
    refused = len(rig.broker.refusals)
    rig.players(*specs)
    rig.start_listener()
    client = admin(rig)
    for pid in ids:
        eventually(lambda p=pid: (s := player(client, p))["online"] and not s["stale"] and s["battery_percent"] == 80)
    assert rig.broker.refusals[refused:] == []
    bodies: list[dict[str, Any]] = [
        {"action": "play", "card_id": card.card_id},
        {"action": "pause"},
        {"action": "resume"},
        {"action": "next"},
        {"action": "previous"},
        {"action": "stop"},
        {"action": "volume", "volume": 30},
        {"action": "sleep_timer", "minutes": 10},
        {"action": "ambient", "hex": "#204080"},
        {"action": "status"},
    ]
    pid = ids[1]  # the Mini
    chapter = {"next": "02", "previous": "01"}  # where each leaves the player: the next one starts from there
    for body in bodies:
        if body["action"] == "next":
            eventually(lambda: player(client, pid)["chapter_key"] == "01")
        if body["action"] == "previous":
            eventually(lambda: player(client, pid)["chapter_key"] == chapter["next"])
        r = command(client, pid, **body)
        assert r.status_code == 200, (body, r.text)
        assert r.json()["via"] == "listener"


def test_next_and_previous_on_a_card_bought_in_the_shop(rig: Rig, player_id: str) -> None:
    """`/content/{id}` serves the family's own cards only; a shop card's chapters come
    from `/card/{id}`, and its keys need not be numbers ("01-INT")."""
    shop = rig.cloud.add_shop_card(
        {
            "cardId": "sHop1",
            "title": "Bought",
            "content": {
                "chapters": [
                    {"key": "01-INT", "title": "Intro", "tracks": [{"key": "01-INT", "title": "Intro"}]},
                    {"key": "01", "title": "One", "tracks": [{"key": "01", "title": "One"}]},
                ]
            },
        },
        ACCOUNT,
    )
    card = SimCard(
        shop["cardId"],
        "Bought",
        (
            SimChapter("01-INT", "Intro", (SimTrack("01-INT", "Intro", 600),)),
            SimChapter("01", "One", (SimTrack("01", "One", 600),)),
        ),
    )
    fleet = rig.players(PlayerSpec(player_id, cards=[card]))
    rig.start_listener()
    client = admin(rig)
    assert command(client, player_id, action="play", card_id="sHop1").status_code == 200
    eventually(lambda: player(client, player_id)["chapter_key"] == "01-INT")
    r = command(client, player_id, action="next")
    assert r.status_code == 200, r.text
    assert fleet[player_id].snapshot()["chapter_key"] == "01"
    eventually(lambda: player(client, player_id)["chapter_key"] == "01")
    assert command(client, player_id, action="previous").status_code == 200
    assert fleet[player_id].snapshot()["chapter_key"] == "01-INT"
