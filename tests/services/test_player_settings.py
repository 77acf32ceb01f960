"""Player settings and alarms on the memory root and the in-process Yoto cloud: the
typed values against Yoto's strings, the whole block kept, one writer at a time,
and what a Mini or a player without a light sensor refuses."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from core.errors import Invalid, NotFound
from core.records import Card, User
from core.yoto.cloud import DeviceConfig
from services import player_settings
from services.player_settings import SettingsPorts
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
V3 = "yoto-player-9c1e"
MINI = "yoto-mini-4f2a"


def config_of(cloud: InProcessCloud, player: str = V3) -> dict[str, Any]:
    return cloud.state.devices.get(player).config


def puts(cloud: InProcessCloud) -> int:
    return len(cloud.requests("PUT", "/device-v2/"))


def test_settings_read_as_typed_values_from_yotos_strings(root: Root) -> None:
    view = player_settings.get_settings(root.player_settings, MUM, V3)
    assert view.model == "v3"
    assert view.values["day_starts"] == "07:00" and view.values["night_starts"] == "19:00"
    assert view.values["day_max_volume"] == 100  # "16"
    assert view.values["night_max_volume"] == 63  # "10", the 11th of the 17 steps
    assert view.values["day_brightness"] == "auto" and view.values["night_brightness"] == 100
    assert view.values["day_ambient"] == "#40bfd9" and view.values["night_ambient"] == "#f57399"
    assert view.values["hour_format"] == 24 and view.values["shutdown_timeout_s"] == 3600
    assert view.values["bluetooth"] is True and view.values["repeat_all"] is False
    assert "day_ambient" in view.supported


def test_a_change_writes_yotos_encodings_in_the_form_each_key_already_has(root: Root, cloud: InProcessCloud) -> None:
    view = player_settings.change_settings(
        root.player_settings,
        MUM,
        V3,
        {
            "night_starts": "19:30",
            "night_max_volume": 50,
            "day_brightness": 40,
            "bluetooth": False,
            "bluetooth_headphones": False,
            "hour_format": 12,
            "night_ambient": "#FF8000",
        },
    )
    config = config_of(cloud)
    assert config["nightTime"] == "19:30"
    assert config["nightMaxVolumeLimit"] == "8"  # 50 % is step 8 of 16
    assert config["dayDisplayBrightness"] == "40"
    assert config["bluetoothEnabled"] == "0"  # held as "1"/"0": stays a string
    assert config["btHeadphonesEnabled"] is False  # held as a boolean: stays one
    assert config["hourFormat"] == "12"
    assert config["nightAmbientColour"] == "#ff8000"
    again = player_settings.get_settings(root.player_settings, MUM, V3)
    assert again.values == view.values
    assert again.values["night_max_volume"] == 50 and again.values["bluetooth"] is False


def test_every_key_the_service_does_not_know_survives_a_write_byte_for_byte(root: Root, cloud: InProcessCloud) -> None:
    config = config_of(cloud)
    config["aFutureSetting"] = {"nested": [1, "two", None], "flag": True}
    config["pauseVolumeDown"] = "1"
    config["dayYotoDaily"] = "3nC80/daily/<TIME>"
    before = json.loads(json.dumps(config))
    player_settings.change_settings(root.player_settings, MUM, V3, {"day_starts": "06:45"})
    after = config_of(cloud)
    assert after.pop("dayTime") == "06:45"
    before.pop("dayTime")
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_a_mini_offers_no_night_light_and_refuses_one_naming_its_model(root: Root, cloud: InProcessCloud) -> None:
    view = player_settings.get_settings(root.player_settings, MUM, MINI)
    assert view.model == "mini"
    assert "day_ambient" not in view.supported and "night_ambient" not in view.supported
    assert view.values["night_ambient"] is None
    before = puts(cloud)
    with pytest.raises(Invalid, match="mini"):
        player_settings.change_settings(root.player_settings, MUM, MINI, {"night_ambient": "#ff0000"})
    assert puts(cloud) == before  # nothing written


def test_auto_brightness_needs_a_light_sensor(root: Root, cloud: InProcessCloud) -> None:
    cloud.add_device("old-player", "Landing", device_type="v2")
    with pytest.raises(Invalid, match=r"light sensor.*v2"):
        player_settings.change_settings(root.player_settings, MUM, "old-player", {"night_brightness": "auto"})
    player_settings.change_settings(root.player_settings, MUM, "old-player", {"night_brightness": 30})
    assert config_of(cloud, "old-player")["nightDisplayBrightness"] == "30"


@pytest.mark.parametrize(
    ("wanted", "reason"),
    [
        ({"day_max_volume": 101}, "day_max_volume must be from 0 to 100"),
        ({"day_starts": "25:00"}, "day_starts must be a time"),
        ({"hour_format": 13}, "hour_format must be 12 or 24"),
        ({"volume": 3}, "no such setting"),
        ({}, "at least one"),
    ],
)
def test_bad_values_are_refused_with_the_reason_and_nothing_is_written(
    root: Root, cloud: InProcessCloud, wanted: dict[str, Any], reason: str
) -> None:
    before = puts(cloud)
    with pytest.raises(Invalid, match=reason):
        player_settings.change_settings(root.player_settings, MUM, V3, wanted)
    assert puts(cloud) == before


def test_an_unknown_player_is_not_found(root: Root) -> None:
    with pytest.raises(NotFound):
        player_settings.get_settings(root.player_settings, MUM, "nobody-has-it")


class SlowReads:
    """The cloud, with a pause after each config read: two changes at once both read the old block."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def get_config(self, token: str, device_id: str) -> DeviceConfig:
        config = self.cloud.get_config(token, device_id)
        time.sleep(0.2)
        return config

    def put_config(self, token: str, config: DeviceConfig) -> DeviceConfig:
        return self.cloud.put_config(token, config)


def test_two_changes_at_once_keep_both(root: Root, cloud: InProcessCloud) -> None:
    ports = replace(root.player_settings, cloud=SlowReads(root.adapters.yoto))
    errors: list[BaseException] = []

    def change(wanted: dict[str, Any]) -> None:
        try:
            player_settings.change_settings(ports, MUM, V3, wanted)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=change, args=({"day_starts": "06:30"},)),
        threading.Thread(target=change, args=({"night_starts": "20:15"},)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    config = config_of(cloud)
    assert (config["dayTime"], config["nightTime"]) == ("06:30", "20:15")


def test_a_second_change_gives_up_with_a_conflict_when_the_first_holds_on(root: Root) -> None:
    clock = [0.0]
    ports: SettingsPorts = replace(
        root.player_settings, sleep=lambda s: clock.__setitem__(0, clock[0] + s), clock=lambda: clock[0]
    )
    root.records.counters.add(f"player-config:{V3}", 1, ttl_s=30)
    with pytest.raises(Exception, match="still being written"):
        player_settings.change_settings(ports, MUM, V3, {"day_starts": "06:30"})
    assert clock[0] >= ports.wait_s


# --------------------------------------------------------------------------- alarms

APP_ALARM = "0000011,0900,sound-birds,a,b,4,1"  # as the Yoto app left it: a time with no colon


def family_card(root: Root, yoto_card_id: str = "ab12C") -> str:
    root.records.cards.add(Card(id="c1", owner="mum", title="Morning songs", yoto_card_id=yoto_card_id))
    return yoto_card_id


def test_alarms_made_in_the_yoto_app_are_listed(root: Root, cloud: InProcessCloud) -> None:
    config_of(cloud)["alarms"] = [APP_ALARM]
    [alarm] = player_settings.list_alarms(root.player_settings, MUM, V3)
    assert alarm.n == 0
    assert alarm.days == ["sat", "sun"] and alarm.time == "09:00"
    assert alarm.volume == 25 and alarm.sound == "sound-birds" and alarm.card_id is None and alarm.enabled


def test_an_alarm_made_here_is_in_yotos_encoding_and_the_apps_alarm_survives_its_edits(
    root: Root, cloud: InProcessCloud
) -> None:
    config_of(cloud)["alarms"] = [APP_ALARM]
    card = family_card(root)
    made = player_settings.add_alarm(
        root.player_settings, MUM, V3, {"days": ["mon", "tue", "wed", "thu", "fri"], "time": "07:30", "card_id": card}
    )
    assert (made.n, made.card_id, made.sound, made.volume, made.enabled) == (1, card, None, 50, True)
    assert config_of(cloud)["alarms"] == [APP_ALARM, f"1111100,07:30,{card},,,8,1"]

    off = player_settings.edit_alarm(root.player_settings, MUM, V3, 1, {"enabled": False, "volume": 100})
    assert off.enabled is False and off.volume == 100
    assert config_of(cloud)["alarms"] == [APP_ALARM, f"1111100,07:30,{card},,,16,0"]

    player_settings.edit_alarm(root.player_settings, MUM, V3, 0, {"time": "08:15"})
    assert config_of(cloud)["alarms"][0] == "0000011,0815,sound-birds,a,b,4,1"  # its own form and fields kept

    player_settings.delete_alarm(root.player_settings, MUM, V3, 0)
    assert config_of(cloud)["alarms"] == [f"1111100,07:30,{card},,,16,0"]


def test_alarm_refusals(root: Root, cloud: InProcessCloud) -> None:
    with pytest.raises(Invalid, match="not one of the family's cards"):
        player_settings.add_alarm(root.player_settings, MUM, V3, {"days": ["mon"], "time": "07:00", "card_id": "zz"})
    with pytest.raises(Invalid, match="days"):
        player_settings.add_alarm(root.player_settings, MUM, V3, {"days": ["someday"], "time": "07:00"})
    with pytest.raises(NotFound, match="no alarm 3"):
        player_settings.edit_alarm(root.player_settings, MUM, V3, 3, {"enabled": False})
    assert config_of(cloud)["alarms"] == []
