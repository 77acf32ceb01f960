"""Quiet hours and the daily limit over the API (`/api/players/{id}/rules`) and enforced by
the real listener loop: mosquitto, a simulated player, the fake Yoto cloud over HTTP.
A player that starts playing is checked at once (a watcher of the listener); the tick
(30 s in production) runs every 0.3 s here where a test needs it, else never."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from core.records import utcnow
from services import player_rules
from simulator.players import PlayerSpec
from tests.api.conftest import MEMBER
from tests.players.conftest import FAST, Rig, admin, eventually
from wiring import root_for

TICK_S = 0.3


def start_listener_with_rules(rig: Rig, tick_every_s: float = TICK_S) -> None:
    """`Rig.start_listener`, with the rules' tick every `tick_every_s`."""
    root = root_for(rig.api.adapters)
    listener = root.listener(backoff=FAST, relist_every_s=0.3)
    rig.handler = root.listener_runner(listener, mode="in-process", heartbeat_every_s=0.2, tick_every_s=tick_every_s)
    root.in_process.start(rig.handler)
    eventually(lambda: listener.health()["connected_accounts"] == ["family"])


def quiet_now(rig: Rig) -> dict[str, str]:
    """A quiet window that began a minute ago by the family's clock and lasts two hours."""
    local = utcnow().astimezone(rig.api.settings.family_tz)
    return {
        "from": (local - timedelta(minutes=1)).strftime("%H:%M"),
        "to": (local + timedelta(hours=2)).strftime("%H:%M"),
    }


def command(client: Any, player_id: str, action: str, **fields: Any) -> None:
    r = client.post(f"/api/players/{player_id}/commands", json={"action": action, **fields})
    assert r.status_code == 200, r.text


def test_rules_are_read_and_replaced_and_bad_ones_refused_with_the_reason(rig: Rig, player_id: str) -> None:
    rig.players(PlayerSpec(player_id))
    client = admin(rig)
    path = f"/api/players/{player_id}/rules"
    r = client.get(path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["quiet_hours"], body["daily_limit_minutes"], body["notice"], body["last_pause"]) == (
        None,
        None,
        None,
        None,
    )
    assert body["enforced_by"].startswith("not enforced: no listener is running") and body["minutes_today"] == 0
    wanted = {"quiet_hours": {"from": "19:30", "to": "07:00"}, "daily_limit_minutes": 45, "notice": "Time to sleep"}
    r = client.put(path, json=wanted)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in wanted} == wanted
    # a member who may use the player reads and changes them, as for its settings
    kid = rig.api.login(MEMBER)
    assert {k: kid.get(path).json()[k] for k in wanted} == wanted
    r = kid.put(path, json={"daily_limit_minutes": 60})
    assert r.status_code == 200 and r.json()["quiet_hours"] is None and r.json()["daily_limit_minutes"] == 60
    for bad, why in [
        ({"quiet_hours": {"from": "19:30", "to": "19:30"}}, "from and to must differ"),
        ({"quiet_hours": {"from": "7:00", "to": "08:00"}}, "from"),
        ({"quiet_hours": {"from": "19:30"}}, "to"),
        ({"daily_limit_minutes": 1441}, "daily_limit_minutes"),
        ({"daily_limit_minutes": "30"}, "daily_limit_minutes"),
        ({"notice": ""}, "notice"),
        ({"bedtime": "now"}, "bedtime"),
    ]:
        r = client.put(path, json=bad)
        assert r.status_code == 422 and why in r.text, (bad, r.text)
    assert client.get(path).json()["daily_limit_minutes"] == 60  # nothing written
    r = client.get("/api/players/nobody-has-it/rules")
    assert r.status_code == 404 and "no linked Yoto account has a player" in r.json()["detail"]
    assert rig.api.client().get(path).status_code == 401


def test_the_listener_pauses_a_player_in_quiet_hours_once_and_again_after_a_resume(rig: Rig, player_id: str) -> None:
    card = rig.card(chapters=1, tracks=1)
    fleet = rig.players(PlayerSpec(player_id, cards=[card], position_every_s=0.2))
    player = fleet[player_id]
    start_listener_with_rules(rig, tick_every_s=3600)  # no tick: each pause is the watcher's
    client = admin(rig)
    path = f"/api/players/{player_id}/rules"
    r = client.put(path, json={"quiet_hours": quiet_now(rig), "notice": "Time to sleep now"})
    assert r.status_code == 200 and r.json()["enforced_by"] == "in-process" and r.json()["in_quiet_hours"] is True

    command(client, player_id, "play", card_id=card.card_id)
    started = time.monotonic()
    eventually(lambda: player.snapshot()["playback_status"] == "paused", timeout=10)
    first_s = time.monotonic() - started
    last = eventually(lambda: client.get(path).json()["last_pause"], timeout=5)
    assert last["breach"] == "quiet_hours"
    eventually(lambda: client.get(f"/api/players/{player_id}").json()["playback_status"] == "paused")
    paused_at = rig.records.settings.get(player_rules.paused_key(player_id))["at"]

    time.sleep(1)  # position reports and the like: nothing more is sent
    assert rig.records.settings.get(player_rules.paused_key(player_id))["at"] == paused_at

    # the child presses play again: paused again
    command(client, player_id, "resume")  # acknowledged once the player plays again
    resumed = time.monotonic()
    eventually(lambda: rig.records.settings.get(player_rules.paused_key(player_id))["at"] != paused_at, timeout=10)
    eventually(lambda: player.snapshot()["playback_status"] == "paused", timeout=10)
    again_s = time.monotonic() - resumed
    assert first_s < 2 and again_s < 2, (first_s, again_s)

    # with the rules cleared the player plays on
    assert client.put(path, json={}).status_code == 200
    command(client, player_id, "resume")
    eventually(lambda: player.snapshot()["playback_status"] == "playing", timeout=5)
    time.sleep(4 * TICK_S)
    assert player.snapshot()["playback_status"] == "playing"


def test_the_listener_pauses_a_player_past_its_minutes_today(rig: Rig, player_id: str) -> None:
    card = rig.card(chapters=1, tracks=1)
    fleet = rig.players(PlayerSpec(player_id, cards=[card], position_every_s=0.2))
    start_listener_with_rules(rig)
    client = admin(rig)
    path = f"/api/players/{player_id}/rules"
    command(client, player_id, "play", card_id=card.card_id)
    eventually(lambda: client.get(f"/api/players/{player_id}").json()["playback_status"] == "playing")
    time.sleep(3 * TICK_S)
    assert fleet[player_id].snapshot()["playback_status"] == "playing"  # no rules yet
    assert client.put(path, json={"daily_limit_minutes": 0}).status_code == 200
    eventually(lambda: fleet[player_id].snapshot()["playback_status"] == "paused", timeout=10)
    body = eventually(lambda: (b := client.get(path).json())["last_pause"] and b, timeout=5)
    assert body["last_pause"]["breach"] == "daily_limit"
    time.sleep(4 * TICK_S)  # ticks with the player paused: nothing more is sent
    assert client.get(path).json()["last_pause"] == body["last_pause"]
    played = player_rules.minutes_today(rig.records.players, player_id, utcnow(), rig.api.settings.family_tz)
    assert 0 < played < 1  # what the history credits: the seconds it played
