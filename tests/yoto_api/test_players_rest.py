"""Battery and charging over REST alone: with no MQTT listener running, GET /api/players
shows what the player's shadow (`device.status` of `/device-v2/{id}/config`) holds.
`/device-v2/{id}/status` is never asked: its scope is refused to third-party apps."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.yoto_api.conftest import ADMIN, YApi, link


def test_players_show_battery_and_charging_from_the_config_without_a_listener(yapi: YApi) -> None:
    yapi.cloud.add_device(
        "yoto-nursery-7b3c",
        "Nursery",
        account="family",
        status={"batteryLevel": 23, "charging": 1, "userVolume": 38, "wifiStrength": -60},
    )
    yapi.cloud.set_device_status("yoto-mini-4f2a", {"batteryLevel": 91, "charging": 0})
    mum: TestClient = yapi.login(ADMIN)
    link(mum)
    r = mum.get("/api/players")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["live"] is False, "no listener runs here"
    players = {p["id"]: p for p in body["items"]}
    nursery = players["yoto-nursery-7b3c"]
    assert (nursery["battery_percent"], nursery["charging"], nursery["volume"]) == (23, True, 38)
    mini = players["yoto-mini-4f2a"]
    assert (mini["battery_percent"], mini["charging"]) == (91, False)
    assert yapi.cloud.requests(path_prefix="/device-v2/yoto-nursery-7b3c/config")
    assert not [r.path for r in yapi.cloud.requests() if r.path.endswith("/status")]
