"""Players: the list, `/status` refused (403), and config with the status block and whole-block replace."""

from __future__ import annotations

import httpx
import pytest

from simulator.cloud import DEFAULT_DEVICES, FIRMWARE_DEFAULT_CONFIG, RunningCloud
from tests.simulator.flows import bearer


def test_devices_mine_lists_seeded_players(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    devices = http.get("/device-v2/devices/mine", headers=auth).json()["devices"]
    assert [d["deviceId"] for d in devices] == [d[0] for d in DEFAULT_DEVICES]
    assert all("-" in d["deviceId"] for d in devices)
    assert {"deviceId", "name", "online", "deviceType", "deviceFamily"} <= set(devices[0])


def test_added_removed_and_foreign_devices(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    yoto_cloud.add_device("yoto-extra-0001", "Playroom", online=False, device_type="v2")
    yoto_cloud.add_device("yoto-next-door", "Neighbour's", account="neighbour")
    listed = {d["deviceId"]: d for d in http.get("/device-v2/devices/mine", headers=auth).json()["devices"]}
    assert listed["yoto-extra-0001"]["online"] is False
    assert "yoto-next-door" not in listed
    assert http.get("/device-v2/yoto-next-door/config", headers=auth).status_code == 404
    assert yoto_cloud.remove_device("yoto-extra-0001")
    assert http.get("/device-v2/yoto-extra-0001/config", headers=auth).status_code == 404


def test_the_status_endpoint_is_refused(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    """`/status` needs family:device-status:view, which Yoto refuses to third-party apps."""
    for device_id in (DEFAULT_DEVICES[0][0], "no-such-player"):
        refused = http.get(f"/device-v2/{device_id}/status", headers=auth)
        assert refused.status_code == 403 and "family:device-status:view" in refused.json()["message"]
    assert http.get(f"/device-v2/{DEFAULT_DEVICES[0][0]}/status").status_code == 401
    assert http.get("/device-v2/devices/mine", headers=auth).status_code == 200  # the list still works


def test_config_carries_the_shadow_status_in_yotos_names(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    device_id = DEFAULT_DEVICES[0][0]
    device = http.get(f"/device-v2/{device_id}/config", headers=auth).json()["device"]
    status = device["status"]
    assert device["online"] is True
    assert {"batteryLevel", "charging", "userVolume", "volume", "wifiStrength", "ssid", "upTime"} <= set(status)
    assert {"freeDisk", "totalDisk", "cardInserted", "day", "temp", "activeCard", "updatedAt"} <= set(status)
    assert status["charging"] in (0, 1) and status["headphones"] in (0, 1)  # flags are 0/1, not booleans
    assert status["activeCard"] == "none" and status["totalDisk"] < 2**31  # KiB
    assert not set(status) & {"batteryLevelPercentage", "isCharging", "isOnline", "userVolumePercentage"}

    before = status["updatedAt"]
    yoto_cloud.advance(5)
    shown = yoto_cloud.set_device_status(device_id, {"batteryLevel": 12, "charging": True, "wifiStrength": -71})
    assert shown["charging"] == 1
    yoto_cloud.set_device_status(device_id, online=False)
    device = http.get(f"/device-v2/{device_id}/config", headers=auth).json()["device"]
    assert (device["status"]["batteryLevel"], device["status"]["charging"], device["online"]) == (12, 1, False)
    assert device["status"]["wifiStrength"] == -71 and device["status"]["updatedAt"] > before
    other = http.get(f"/device-v2/{DEFAULT_DEVICES[1][0]}/config", headers=auth).json()["device"]["status"]
    assert other["batteryLevel"] == 87, "each player has its own status"
    with pytest.raises(ValueError, match="batteryLevelPercentage"):
        yoto_cloud.set_device_status(device_id, {"batteryLevelPercentage": 5})
    with pytest.raises(ValueError, match="charging is 0 or 1"):
        yoto_cloud.set_device_status(device_id, {"charging": "yes"})


def test_config_put_replaces_the_whole_block(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    device_id = DEFAULT_DEVICES[1][0]
    read = http.get(f"/device-v2/{device_id}/config", headers=auth).json()["device"]
    assert read["deviceId"] == device_id
    assert read["config"] == FIRMWARE_DEFAULT_CONFIG
    assert read["status"]["batteryLevel"] == 87

    merged = read["config"] | {"maxVolumeLimit": "8", "nightTime": "18:30"}
    ok = http.put(f"/device-v2/{device_id}/config", json={"deviceId": device_id, "config": merged}, headers=auth)
    assert ok.json() == {"status": "ok"}
    ok = http.put(f"/device-v2/{device_id}/config", json={"config": {"ambientColour": "#ff0000"}}, headers=auth)
    assert ok.status_code == 200
    config = http.get(f"/device-v2/{device_id}/config", headers=auth).json()["device"]["config"]
    # maxVolumeLimit and nightTime were left out of the second PUT: back to firmware defaults.
    assert config["ambientColour"] == "#ff0000"
    assert config["maxVolumeLimit"] == FIRMWARE_DEFAULT_CONFIG["maxVolumeLimit"]
    assert config["nightTime"] == FIRMWARE_DEFAULT_CONFIG["nightTime"]
    assert yoto_cloud.device_config(device_id) == config


def test_bad_config_writes_change_nothing(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    device_id = DEFAULT_DEVICES[0][0]
    http.put(f"/device-v2/{device_id}/config", json={"config": {"maxVolumeLimit": "9"}}, headers=auth)
    bad = [
        {"config": "loud"},
        {"deviceId": "someone-else", "config": {}},
        {"config": {"dayTime": "7am"}},
        {"config": {"alarms": ["every day at seven"]}},
        {"config": {"alarms": "1111111,0700,sound,,,8,1"}},
    ]
    for body in bad:
        answer = http.put(f"/device-v2/{device_id}/config", json=body, headers=auth)
        assert answer.status_code == 400, body
        assert answer.json()["message"]
    assert yoto_cloud.device_config(device_id)["maxVolumeLimit"] == "9"
    good = {"config": {"alarms": ["1111100,0700,5WsQg,,,8,1", "0000011,0830,5WsQg,,,6"]}}
    assert http.put(f"/device-v2/{device_id}/config", json=good, headers=auth).status_code == 200


def test_config_write_can_rename(yoto_cloud: RunningCloud, http: httpx.Client) -> None:
    token = bearer(yoto_cloud.issue_tokens()["access_token"])
    device_id = DEFAULT_DEVICES[0][0]
    http.put(f"/device-v2/{device_id}/config", json={"name": "Nursery", "config": {}}, headers=token)
    names = {d["deviceId"]: d["name"] for d in http.get("/device-v2/devices/mine", headers=token).json()["devices"]}
    assert names[device_id] == "Nursery"
