"""A player's config in the fake cloud (issue 21): Yoto's string encodings checked on every PUT
(400 naming the key), unknown keys kept, both alarm time forms, a v3 and a Mini told apart by
`deviceFamily`, and alarms seeded "from the Yoto app" over `/_sim/`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator.cloud import DEFAULT_DEVICES, FIRMWARE_DEFAULT_CONFIG, RemoteCloud, RemoteError, RunningCloud
from tests import yoto_sim

yoto_cloud_process = yoto_sim.yoto_cloud_process
yoto_cloud_process_session = yoto_sim.yoto_cloud_process_session

V3, MINI = DEFAULT_DEVICES[0][0], DEFAULT_DEVICES[1][0]

REFUSED: list[tuple[str, Any]] = [
    ("dayTime", "7:00"),
    ("dayTime", "0700"),
    ("nightTime", "24:00"),
    ("nightTime", 1900),
    ("maxVolumeLimit", "17"),
    ("maxVolumeLimit", 8),
    ("nightMaxVolumeLimit", "-1"),
    ("nightMaxVolumeLimit", "loud"),
    ("dayDisplayBrightness", "101"),
    ("dayDisplayBrightness", 50),
    ("nightDisplayBrightness", "AUTO"),
    ("ambientColour", "red"),
    ("ambientColour", "#ff00"),
    ("nightAmbientColour", "#gg0000"),
    ("hourFormat", "13"),
    ("hourFormat", 24),
    ("shutdownTimeout", "an hour"),
    ("shutdownTimeout", 3600),
    ("bluetoothEnabled", "yes"),
    ("repeatAll", 2),
    ("headphonesVolumeLimited", "true"),
    ("alarms", ["1111100,7:30,s1,,,8,1"]),
    ("alarms", ["1111100,07:30,s1,,,17,1"]),
    ("alarms", ["111110,07:30,s1,,,8,1"]),
    ("alarms", ["1111100,07:30,s1,,,8,2"]),
    ("alarms", ["1111100,07:30,s1,,,8,1,extra"]),
    ("alarms", ["1111100,0730"]),
]

ACCEPTED: dict[str, Any] = {
    "dayTime": "06:45",
    "nightTime": "19:30",
    "maxVolumeLimit": "0",
    "nightMaxVolumeLimit": "16",
    "dayDisplayBrightness": "auto",
    "nightDisplayBrightness": "0",
    "ambientColour": "#FF8C00",
    "nightAmbientColour": "#0",
    "hourFormat": "12",
    "shutdownTimeout": "0",
    "displayDimTimeout": "60",
    "bluetoothEnabled": "0",
    "btHeadphonesEnabled": False,
    "headphonesVolumeLimited": "1",
    "repeatAll": True,
    "daySoundsOff": "1",
    # yoto_api's encode_alarm form, the Node capture's HHMM form without the flag, an empty volume
    "alarms": ["1111100,07:30,s1,,,8,1", "1111111,1100,5WsQg,,,8", "0000011,09:00,s2,,,,0"],
    "someFutureKey": {"kept": ["as", "it", "was"]},
    "logLevel": "none",
}


def put(http: httpx.Client, auth: dict[str, str], device_id: str, config: dict[str, Any]) -> httpx.Response:
    return http.put(f"/device-v2/{device_id}/config", json={"deviceId": device_id, "config": config}, headers=auth)


def read(http: httpx.Client, auth: dict[str, str], device_id: str) -> dict[str, Any]:
    return dict(http.get(f"/device-v2/{device_id}/config", headers=auth).json()["device"])


@pytest.mark.parametrize(("key", "value"), REFUSED)
def test_a_value_out_of_yotos_range_is_refused_naming_the_key(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], key: str, value: Any
) -> None:
    before = yoto_cloud.device_config(V3)
    answer = put(http, auth, V3, {**before, key: value})
    assert answer.status_code == 400, (key, value)
    assert f"config.{key}" in answer.json()["message"]
    assert yoto_cloud.device_config(V3) == before, "a refused PUT changes nothing"


def test_every_encoding_sources_report_is_kept_as_written(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    answer = put(http, auth, V3, {**FIRMWARE_DEFAULT_CONFIG, **ACCEPTED})
    assert answer.status_code == 200, answer.text
    config = read(http, auth, V3)["config"]
    assert config == {**FIRMWARE_DEFAULT_CONFIG, **ACCEPTED}
    # the whole block is replaced, unknown keys included: a PUT without them loses them
    assert put(http, auth, V3, {"dayTime": "08:00"}).status_code == 200
    config = read(http, auth, V3)["config"]
    assert "someFutureKey" not in config and config["alarms"] == [] and config["dayTime"] == "08:00"


def test_a_v3_and_a_mini_are_told_apart_by_device_family(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    yoto_cloud.add_device("yoto-mini-7e01", "Car Mini", device_type="mini")
    listed = {d["deviceId"]: d for d in http.get("/device-v2/devices/mine", headers=auth).json()["devices"]}
    assert (listed[V3]["deviceFamily"], listed[MINI]["deviceFamily"]) == ("v3", "mini")
    assert listed["yoto-mini-7e01"]["deviceFamily"] == listed["yoto-mini-7e01"]["deviceType"] == "mini"
    for device_id, family in ((V3, "v3"), (MINI, "mini"), ("yoto-mini-7e01", "mini")):
        assert read(http, auth, device_id)["deviceFamily"] == family
    # unverified whether Yoto refuses ambient keys for a Mini: the fake cloud keeps them
    assert put(http, auth, MINI, {"nightAmbientColour": "#ff0000"}).status_code == 200
    assert read(http, auth, MINI)["config"]["nightAmbientColour"] == "#ff0000"


def test_alarms_made_in_the_yoto_app_are_seeded_over_sim_and_read_back(
    yoto_cloud_process: RemoteCloud,
) -> None:
    cloud = yoto_cloud_process
    cloud.add_device("yoto-mini-sim-1", "Seeded Mini", device_type="minie", device_family="mini")
    listed = {d["deviceId"]: d for d in cloud.devices()}["yoto-mini-sim-1"]
    assert (listed["deviceType"], listed["deviceFamily"]) == ("minie", "mini"), "yoto_api: a SKU code and a family"
    assert cloud.add_app_alarm(V3, "0111110,0645,5WsQg,,,6") == 0
    assert cloud.add_app_alarm(V3, "1000001,09:15,card-abc,x,y,10,0") == 1
    seeded = cloud.seed_config(V3, {"appOnlyKey": "7", "maxVolumeLimit": "12"})
    assert seeded["alarms"] == ["0111110,0645,5WsQg,,,6", "1000001,09:15,card-abc,x,y,10,0"]
    assert seeded["appOnlyKey"] == "7" and seeded["maxVolumeLimit"] == "12"
    assert seeded["dayTime"] == FIRMWARE_DEFAULT_CONFIG["dayTime"], "a seed merges, it does not replace"

    tokens = cloud.issue_tokens()
    with httpx.Client(base_url=cloud.url, headers={"Authorization": f"Bearer {tokens['access_token']}"}) as http:
        assert read(http, {}, V3)["config"] == seeded
    assert cloud.device_config(V3) == seeded

    with pytest.raises(RemoteError) as refused:
        cloud.add_app_alarm(V3, "every day at seven")
    assert refused.value.status == 400 and "alarm" in str(refused.value)
    with pytest.raises(RemoteError) as refused:
        cloud.seed_config(V3, {"maxVolumeLimit": "99"})
    assert refused.value.status == 400 and "config.maxVolumeLimit" in str(refused.value)
    assert cloud.device_config(V3) == seeded
