"""A player an admin keeps "mine only" (issue 18, finding 10), over real HTTP:
uvicorn on 127.0.0.1 (both adapter sets), mosquitto, a simulated player on the
member kid's own Yoto account (the fake cloud), and another member, ben.
Only kid and admins see and drive it; to ben it is as unknown as a player no
account has, in the list, a read, a command, the history, the stream and the
routines aimed at it (his own routine's step fails as for an unknown player)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from simulator.cloud import RunningCloud
from simulator.players import PlayerSpec, start_players
from tests.api.conftest import ADMIN, MEMBER
from tests.api.linked_family import Family, finished, linked_family
from tests.brokers import Mosquitto
from tests.players.conftest import eventually

OTHER = ("ben", "banana pancake tuesday")
UNKNOWN = "no linked Yoto account has a player"


@pytest.fixture
def family(backend_settings: Settings, cloud: RunningCloud, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Family]:
    broker = mosquitto.config("tcp")
    mqtt = {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "mqtt_transport": "tcp",
        "mqtt_tls": False,
        "mqtt_command_timeout_s": 2.0,
    }
    with linked_family(backend_settings, cloud, tmp_path, **mqtt) as built:
        yield built


def routine(client: httpx.Client, player_id: str, volume: int) -> str:
    body = {"name": f"Volume {volume}", "player_id": player_id, "at": "19:00", "days": ["mon"]}
    r = client.post("/api/routines", json={**body, "steps": [{"action": "volume", "volume": volume}]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def ids(client: httpx.Client, path: str) -> list[str]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]]


def streamed(client: httpx.Client, seconds: float = 2.0) -> str:
    """What `GET /api/players/stream` sends in its first seconds."""
    got = b""
    try:
        with client.stream("GET", "/api/players/stream", timeout=httpx.Timeout(seconds)) as r:
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                got += chunk
    except httpx.ReadTimeout:
        pass
    return got.decode()


def volume(client: httpx.Client, player_id: str, level: int) -> httpx.Response:
    return client.post(f"/api/players/{player_id}/commands", json={"action": "volume", "volume": level})


def test_a_player_kept_mine_only_is_unknown_to_other_members(
    family: Family, cloud: RunningCloud, mosquitto: Mosquitto, player_id: str
) -> None:
    admin, kid = family.login(ADMIN), family.login(MEMBER)
    assert admin.post("/api/users", json={"username": OTHER[0], "password": OTHER[1]}).status_code == 201
    ben = family.login(OTHER)
    family.link(kid, "kid-yoto")
    cloud.add_device(player_id, "Kid's room", account="kid-yoto")
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, volume_level=8)]) as fleet:
        sim = fleet[player_id]
        shown = ben.get(f"/api/players/{player_id}").json()
        assert (shown["owner"], shown["private"]) == (MEMBER[0], False)
        assert volume(ben, player_id, 40).status_code == 200  # the family's, until an admin says otherwise
        kids_routine, bens_routine = routine(kid, player_id, 20), routine(ben, player_id, 90)

        for who in (kid, ben):  # admins only
            assert who.put(f"/api/players/{player_id}/private", json={"private": True}).status_code == 403
        r = admin.put(f"/api/players/{player_id}/private", json={"private": True})
        assert r.status_code == 200, r.text
        assert (r.json()["id"], r.json()["owner"], r.json()["private"]) == (player_id, MEMBER[0], True)

        unknown = ben.get("/api/players/no-such-player")
        assert unknown.status_code == 404
        assert player_id not in ids(ben, "/api/players")
        for answer in (
            ben.get(f"/api/players/{player_id}"),
            volume(ben, player_id, 60),
            ben.get(f"/api/players/{player_id}/history"),
        ):
            assert answer.status_code == 404 and answer.json()["detail"].startswith(UNKNOWN), answer.text
        assert player_id not in streamed(ben)
        assert ids(ben, "/api/routines") == [bens_routine]
        assert ben.get(f"/api/routines/{kids_routine}").status_code == 404
        assert ben.post(f"/api/routines/{kids_routine}/run").status_code == 404
        before = sim.snapshot()["volume"]
        run = finished(ben, ben.post(f"/api/routines/{bens_routine}/run"))
        assert run["status"] == "failed" and run["results"][0]["reason"].startswith(UNKNOWN), run
        assert sim.snapshot()["volume"] == before

        for who in (kid, admin):  # its owner and admins see and drive it
            listed = {p["id"]: p for p in who.get("/api/players").json()["items"]}
            assert listed[player_id]["private"] is True
            assert player_id in streamed(who)
            assert {kids_routine, bens_routine} <= set(ids(who, "/api/routines"))
            assert who.get(f"/api/players/{player_id}/history").status_code == 200
        level = sim.snapshot()["volume"]
        assert volume(kid, player_id, 100).status_code == 200
        eventually(lambda: sim.snapshot()["volume"] != level)
        assert finished(kid, kid.post(f"/api/routines/{kids_routine}/run"))["status"] == "ok"
        assert volume(admin, player_id, 50).status_code == 200

        assert admin.put(f"/api/players/{player_id}/private", json={"private": False}).json()["private"] is False
        assert player_id in ids(ben, "/api/players")
        assert volume(ben, player_id, 30).status_code == 200
        assert kids_routine in ids(ben, "/api/routines")


def test_only_a_player_of_a_linked_account_can_be_kept(family: Family) -> None:
    admin = family.login(ADMIN)
    r = admin.put("/api/players/no-such-player/private", json={"private": True})
    assert r.status_code == 404 and r.json()["detail"].startswith(UNKNOWN)
    assert admin.put("/api/players/x/private", json={"private": "yes"}).status_code == 422
    assert [k for k in family.adapters.records.settings.list_keys() if k.startswith("player-private:")] == []
