"""Player settings and alarms through the API, against the fake Yoto cloud over HTTP,
on both adapter sets: every setting read, changed and read back; keys the service
does not know kept; two PATCHes at once both kept; alarms in Yoto's encoding."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from core.records import Card
from tests.yoto_api.conftest import ADMIN, YApi, link

V3 = "yoto-player-9c1e"
MINI = "yoto-mini-4f2a"

EVERY_SETTING: dict[str, Any] = {
    "day_starts": "06:45",
    "night_starts": "19:15",
    "day_max_volume": 88,
    "night_max_volume": 44,
    "day_brightness": 70,
    "night_brightness": 10,
    "day_ambient": "#ffb800",
    "night_ambient": "#ff3900",
    "clock_face": "analogue",
    "hour_format": 12,
    "bluetooth": False,
    "bluetooth_headphones": False,
    "headphones_volume_limited": False,
    "shutdown_timeout_s": 1800,
    "repeat_all": True,
}


def linked(yapi: YApi) -> TestClient:
    mum = yapi.login(ADMIN)
    link(mum)
    return mum


def test_every_setting_is_read_changed_and_read_back(yapi: YApi) -> None:
    mum = linked(yapi)
    first = mum.get(f"/api/players/{V3}/settings")
    assert first.status_code == 200, first.text
    assert first.json()["model"] == "v3" and set(EVERY_SETTING) <= set(first.json()["supported"])

    r = mum.patch(f"/api/players/{V3}/settings", json=EVERY_SETTING)
    assert r.status_code == 200, r.text
    back = mum.get(f"/api/players/{V3}/settings").json()
    assert {k: back[k] for k in EVERY_SETTING} == EVERY_SETTING
    config = yapi.cloud.device_config(V3)
    assert (config["maxVolumeLimit"], config["nightMaxVolumeLimit"]) == ("14", "7")  # the 0-16 steps
    assert (config["dayTime"], config["hourFormat"], config["shutdownTimeout"]) == ("06:45", "12", "1800")
    assert config["bluetoothEnabled"] == "0" and config["repeatAll"] is True


def test_a_config_key_the_service_does_not_know_survives_every_write(yapi: YApi) -> None:
    mum = linked(yapi)
    yapi.cloud.seed_config(V3, {"someNewFirmwareKey": "keep me", "pausePowerButton": True})
    for change in ({"day_starts": "07:10"}, {"repeat_all": True}, {"night_ambient": "#40bfd9"}):
        assert mum.patch(f"/api/players/{V3}/settings", json=change).status_code == 200
    r = mum.post(f"/api/players/{V3}/alarms", json={"days": ["sat"], "time": "08:00"})
    assert r.status_code == 201, r.text
    config = yapi.cloud.device_config(V3)
    assert config["someNewFirmwareKey"] == "keep me" and config["pausePowerButton"] is True
    assert (config["dayTime"], config["repeatAll"], config["nightAmbientColour"]) == ("07:10", True, "#40bfd9")


def test_two_patches_at_once_keep_both_changes(yapi: YApi) -> None:
    mum = linked(yapi)
    mum.get(f"/api/players/{V3}/settings")  # the device list is cached before the race
    yapi.cloud.fail_next("slow", count=2, path_prefix=f"/device-v2/{V3}/config", method="GET", delay_s=0.4)
    answers: list[int] = []
    changes = ({"day_max_volume": 50}, {"night_starts": "20:30"})
    threads = [
        threading.Thread(
            target=lambda c=c: answers.append(mum.patch(f"/api/players/{V3}/settings", json=c).status_code)
        )
        for c in changes
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert answers == [200, 200]
    config = yapi.cloud.device_config(V3)
    assert (config["maxVolumeLimit"], config["nightTime"]) == ("8", "20:30")


def test_a_mini_is_offered_no_night_light_and_refused_one_naming_it(yapi: YApi) -> None:
    mum = linked(yapi)
    body = mum.get(f"/api/players/{MINI}/settings").json()
    assert body["model"] == "mini" and "night_ambient" not in body["supported"] and body["night_ambient"] is None
    r = mum.patch(f"/api/players/{MINI}/settings", json={"night_ambient": "#ff0000", "day_starts": "06:00"})
    assert r.status_code == 422 and "mini" in r.text, r.text
    assert yapi.cloud.device_config(MINI)["dayTime"] == "07:00"  # nothing of it was written


def test_bad_values_are_422_with_the_reason(yapi: YApi) -> None:
    mum = linked(yapi)
    for body in ({"day_max_volume": 101}, {"day_starts": "7pm"}, {"hour_format": 13}, {"volume": 5}, {}):
        r = mum.patch(f"/api/players/{V3}/settings", json=body)
        assert r.status_code == 422, (body, r.text)
    assert mum.get("/api/players/no-such-player/settings").status_code == 404


def test_alarms_from_the_app_are_listed_and_survive_edits_of_ours(yapi: YApi) -> None:
    mum = linked(yapi)
    app_alarm = "0000011,0900,sound-birds,,,4,1"
    yapi.cloud.add_app_alarm(V3, app_alarm)
    card = Card(id="c-morning", owner="mum", title="Morning songs", yoto_card_id="Mrn01")
    yapi.api.adapters.records.cards.add(card)

    listed = mum.get(f"/api/players/{V3}/alarms").json()["alarms"]
    assert listed == [
        {
            "n": 0,
            "days": ["sat", "sun"],
            "time": "09:00",
            "volume": 25,
            "card_id": None,
            "sound": "sound-birds",
            "enabled": True,
        }
    ]
    made = mum.post(
        f"/api/players/{V3}/alarms",
        json={"days": ["mon", "wed", "fri"], "time": "07:05", "volume": 63, "card_id": "Mrn01"},
    )
    assert made.status_code == 201, made.text
    assert made.json() == {
        "n": 1,
        "days": ["mon", "wed", "fri"],
        "time": "07:05",
        "volume": 63,
        "card_id": "Mrn01",
        "sound": None,
        "enabled": True,
    }
    assert yapi.cloud.device_config(V3)["alarms"] == [app_alarm, "1010100,07:05,Mrn01,,,10,1"]

    off = mum.patch(f"/api/players/{V3}/alarms/1", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert yapi.cloud.device_config(V3)["alarms"] == [app_alarm, "1010100,07:05,Mrn01,,,10,0"]

    assert mum.patch(f"/api/players/{V3}/alarms/5", json={"enabled": False}).status_code == 404
    r = mum.post(f"/api/players/{V3}/alarms", json={"days": ["mon"], "time": "07:00", "card_id": "NotOurs"})
    assert r.status_code == 422 and "family's cards" in r.text
    assert mum.delete(f"/api/players/{V3}/alarms/1").status_code == 204
    assert yapi.cloud.device_config(V3)["alarms"] == [app_alarm]


def test_an_alarm_goes_back_to_the_players_own_sound_and_the_answer_says_what_auto_needs(yapi: YApi) -> None:
    mum = linked(yapi)
    assert mum.get(f"/api/players/{V3}/settings").json()["light_sensor"] is True
    assert mum.get(f"/api/players/{MINI}/settings").json()["light_sensor"] is False
    made = mum.post(f"/api/players/{V3}/alarms", json={"days": ["sun"], "time": "08:00", "sound": "birds"}).json()
    assert made["sound"] == "birds"
    back = mum.patch(f"/api/players/{V3}/alarms/{made['n']}", json={"sound": ""})
    assert back.status_code == 200 and back.json()["sound"] is None and back.json()["card_id"] is None
    assert yapi.cloud.device_config(V3)["alarms"][made["n"]].split(",")[2] == ""
