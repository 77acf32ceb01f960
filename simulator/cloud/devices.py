"""The account's players as the REST side sees them: the list, and the config
that also carries the device shadow's status block.

A config PUT replaces the whole block: keys the client leaves out fall back
to the firmware defaults below, which is the trap the shared notes warn of
(always read, merge, then write). The status block uses Yoto's own names and
encodings (0/1 flags, disk in KiB, `temp` as "battery:device"); `/status`
itself is refused (api_routes).
"""

from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from simulator.cloud.clock import iso
from simulator.cloud.config import DEFAULT_ACCOUNT
from simulator.cloud.http import HttpError

FIRMWARE_DEFAULT_CONFIG: dict[str, Any] = {
    "alarms": [],
    "ambientColour": "#40bfd9",
    "bluetoothEnabled": "1",
    "btHeadphonesEnabled": True,
    "clockFace": "digital-sun",
    "dayDisplayBrightness": "auto",
    "dayTime": "07:00",
    "dayYotoDaily": "3nC80/daily/<TIME>",
    "dayYotoRadio": "3nC80/radio-day/01",
    "displayDimTimeout": "30",
    "headphonesVolumeLimited": True,
    "hourFormat": "24",
    "locale": "en",
    "maxVolumeLimit": "16",
    "nightAmbientColour": "#f57399",
    "nightDisplayBrightness": "100",
    "nightMaxVolumeLimit": "10",
    "nightTime": "19:00",
    "nightYotoDaily": "3nC80/daily/<TIME>",
    "nightYotoRadio": "0",
    "repeatAll": False,
    "shutdownTimeout": "3600",
    "systemVolume": "100",
    "timezone": "",
    "volumeLevel": "safe",
}

_HHMM = re.compile(r"([01]\d|2[0-3]):?[0-5]\d")
_TIME_KEYS = ("dayTime", "nightTime")
_VOLUME_LIMIT_KEYS = ("maxVolumeLimit", "nightMaxVolumeLimit")
_BRIGHTNESS_KEYS = ("dayDisplayBrightness", "nightDisplayBrightness")
_COLOUR_KEYS = ("ambientColour", "nightAmbientColour")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}|#0|off")  # "#0" and "off": the off sentinels yoto_api's const.py reads
_NUMBER_KEYS = ("shutdownTimeout", "displayDimTimeout")
# Flags: sources report booleans for some and "0"/"1" for others; either form is taken for each.
_FLAG_CONFIG_KEYS = (
    "bluetoothEnabled",
    "btHeadphonesEnabled",
    "headphonesVolumeLimited",
    "repeatAll",
    "daySoundsOff",
    "nightSoundsOff",
    "showDiagnostics",
    "pauseVolumeDown",
    "pausePowerButton",
)
# days (7 x 0/1), time (HH:MM as yoto_api writes, HHMM as the Node capture shows), sound or card id,
# two fields nobody has named, volume (0-16, may be empty), then an optional on/off flag.
_ALARM = re.compile(r"[01]{7},(?:[01]\d|2[0-3]):?[0-5]\d,[^,]*,[^,]*,[^,]*,(?:\d{1,2})?(?:,[01])?")


# Flags the shadow reports as 0/1 integers, not booleans.
FLAG_KEYS = frozenset({"charging", "headphones", "bluetoothHp", "bgDownload"})
# The old `/status` vocabulary: refused, so a test cannot set a field no client reads.
STATUS_ENDPOINT_NAMES = frozenset(
    {
        "batteryLevelPercentage",
        "isCharging",
        "isOnline",
        "userVolumePercentage",
        "systemVolumePercentage",
        "temperatureCelcius",
        "freeDiskSpaceBytes",
        "totalDiskSpaceBytes",
        "networkSsid",
        "uptime",
        "cardInsertionState",
        "dayMode",
    }
)


def _default_status(device_id: str) -> dict[str, Any]:
    return {
        "deviceId": device_id,
        "statusVersion": 3,
        "fwVersion": "v2.17.5",
        "activeCard": "none",
        "batteryLevel": 87,
        "battery": 4010,
        "charging": 0,
        "powerSrc": 0,
        "headphones": 0,
        "bluetoothHp": 0,
        "volume": 100,
        "userVolume": 50,
        "wifiStrength": -52,
        "ssid": "FamilyWiFi",
        "upTime": 3600,
        "freeDisk": 25_160_368,
        "totalDisk": 31_385_600,
        "cardInserted": 0,
        "day": 1,
        "temp": "24:21",
        "als": 12,
        "nightlightMode": "off",
        "utcOffset": 0,
    }


def check_status(status: dict[str, Any]) -> dict[str, Any]:
    """Status fields as the shadow holds them (booleans given for flags become 0/1); ValueError for the old names."""
    old = sorted(set(status) & STATUS_ENDPOINT_NAMES)
    if old:
        raise ValueError(f"use the device.status names of /config (batteryLevel, charging, ...), not {', '.join(old)}")
    out = dict(status)
    for key in FLAG_KEYS & set(out):
        value = out[key]
        if isinstance(value, bool):
            out[key] = int(value)
        elif value not in (0, 1):
            raise ValueError(f"{key} is 0 or 1 (got {value!r})")
    return out


@dataclass
class Device:
    device_id: str
    name: str
    account: str = DEFAULT_ACCOUNT
    online: bool = True
    device_type: str = "v3"
    device_family: str = "v3"
    status: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(FIRMWARE_DEFAULT_CONFIG))
    status_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.status = check_status(self.status)

    def listing(self) -> dict[str, Any]:
        return {
            "deviceId": self.device_id,
            "name": self.name,
            "description": self.name,
            "online": self.online,
            "releaseChannel": "general",
            "deviceType": self.device_type,
            "deviceFamily": self.device_family,
            "deviceGroup": "",
            "hasUserGivenName": True,
        }

    def status_body(self) -> dict[str, Any]:
        """The `device.status` block of /config."""
        return {**_default_status(self.device_id), **self.status, "updatedAt": iso(self.status_at)}


# Two players every fresh cloud has; ids contain "-" on purpose.
DEFAULT_DEVICES: tuple[tuple[str, str, str], ...] = (
    ("yoto-player-9c1e", "Bedroom Player", "v3"),
    ("yoto-mini-4f2a", "Kitchen Mini", "mini"),
)


def _config_error(key: str, wanted: str, value: Any) -> HttpError:
    return HttpError(400, f"config.{key} must be {wanted} (got {value!r})")


def _in_range(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and value.isdigit() and low <= int(value) <= high


def check_alarm(alarm: Any) -> bool:
    """Whether `alarm` is an alarm string in one of the forms sources report (docs/yoto.md)."""
    if not isinstance(alarm, str) or not _ALARM.fullmatch(alarm):
        return False
    volume = alarm.split(",")[5]
    return volume == "" or int(volume) <= 16


def check_config(config: dict[str, Any]) -> None:
    """HttpError 400 naming the first key whose value Yoto's encodings do not allow; unknown keys pass."""
    checks: list[tuple[tuple[str, ...], str, Any]] = [
        (_TIME_KEYS, '"HH:MM"', lambda v: isinstance(v, str) and len(v) == 5 and bool(_HHMM.fullmatch(v))),
        (_VOLUME_LIMIT_KEYS, 'a string "0".."16"', lambda v: _in_range(v, 0, 16)),
        (_BRIGHTNESS_KEYS, '"auto" or a string "0".."100"', lambda v: v == "auto" or _in_range(v, 0, 100)),
        (_COLOUR_KEYS, '"#rrggbb" (or "#0" for off)', lambda v: isinstance(v, str) and bool(_COLOUR.fullmatch(v))),
        (("hourFormat",), '"12" or "24"', lambda v: v in ("12", "24")),
        (_NUMBER_KEYS, "a string of whole seconds", lambda v: _in_range(v, 0, 10**7)),
        (_FLAG_CONFIG_KEYS, 'true/false or "0"/"1"', lambda v: isinstance(v, bool) or v in ("0", "1")),
    ]
    for keys, wanted, valid in checks:
        for key in keys:
            if key in config and not valid(config[key]):
                raise _config_error(key, wanted, config[key])
    alarms = config.get("alarms")
    if alarms is not None:
        if not isinstance(alarms, list):
            raise HttpError(400, "config.alarms must be a list of strings")
        for i, alarm in enumerate(alarms):
            if not check_alarm(alarm):
                raise HttpError(
                    400, f"config.alarms[{i}] must be 'days,HH:MM,sound,,,volume[,enabled]' (got {alarm!r})"
                )


def day_mode(config: dict[str, Any], minute_of_day: int) -> bool:
    """Whether the player is in day mode at `minute_of_day` (local): from dayTime until nightTime."""

    def minutes(key: str) -> int:
        value = str(config.get(key) or FIRMWARE_DEFAULT_CONFIG[key]).replace(":", "")
        return int(value[:2]) * 60 + int(value[2:4])

    day, night = minutes("dayTime"), minutes("nightTime")
    if day <= night:
        return day <= minute_of_day < night
    return minute_of_day >= day or minute_of_day < night


class DeviceRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}

    def add(self, device: Device) -> Device:
        with self._lock:
            self._devices[device.device_id] = device
        return device

    def remove(self, device_id: str) -> bool:
        with self._lock:
            return self._devices.pop(device_id, None) is not None

    def get(self, device_id: str, account: str | None = None) -> Device:
        with self._lock:
            device = self._devices.get(device_id)
        if device is None or (account is not None and device.account != account):
            raise HttpError(404, f"Device {device_id} not found")
        return device

    def mine(self, account: str) -> list[dict[str, Any]]:
        with self._lock:
            return [d.listing() for d in self._devices.values() if d.account == account]

    def all(self) -> list[Device]:
        with self._lock:
            return list(self._devices.values())

    def set_status(
        self, device_id: str, status: dict[str, Any] | None = None, online: bool | None = None, now: float | None = None
    ) -> Device:
        """Merge status fields into the shadow (its `updatedAt` moves to `now`); `online` flips the listing too."""
        device = self.get(device_id)
        checked = check_status(status or {})
        with self._lock:
            if checked:
                device.status.update(checked)
                device.status_at = time.time() if now is None else now
            if online is not None:
                device.online = online
        return device

    def read_config(self, device_id: str, account: str) -> dict[str, Any]:
        device = self.get(device_id, account)
        with self._lock:
            return {
                "device": {
                    "deviceId": device.device_id,
                    "name": device.name,
                    "deviceType": device.device_type,
                    "deviceFamily": device.device_family,
                    "deviceGroup": "",
                    "online": device.online,
                    "errorCode": None,
                    "geoTimezone": "Europe/London",
                    "config": copy.deepcopy(device.config),
                    "status": device.status_body(),
                }
            }

    def write_config(self, device_id: str, account: str, body: dict[str, Any]) -> None:
        device = self.get(device_id, account)
        if body.get("deviceId") not in (None, device_id):
            raise HttpError(400, "deviceId in the body does not match the path")
        config = body.get("config")
        if not isinstance(config, dict):
            raise HttpError(400, "config must be an object")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise HttpError(400, "name must be a non-empty string")
        check_config(config)
        with self._lock:
            device.config = {**copy.deepcopy(FIRMWARE_DEFAULT_CONFIG), **copy.deepcopy(config)}
            if name is not None:
                device.name = name

    def seed_config(self, device_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge raw keys into a player's config as another app (Yoto's own) would have left them;
        checked like a PUT, so the cloud never holds what its PUT would refuse. Answers the config."""
        device = self.get(device_id)
        with self._lock:
            merged = {**device.config, **copy.deepcopy(changes)}
            check_config(merged)
            device.config = merged
            return copy.deepcopy(merged)

    def add_alarm(self, device_id: str, alarm: str) -> int:
        """Append one raw alarm string (made "in the Yoto app"); answers its index."""
        if not check_alarm(alarm):
            raise HttpError(400, f"alarm must be 'days,HH:MM,sound,,,volume[,enabled]' (got {alarm!r})")
        device = self.get(device_id)
        with self._lock:
            alarms = device.config.get("alarms")
            device.config["alarms"] = [*(alarms if isinstance(alarms, list) else []), alarm]
            return len(device.config["alarms"]) - 1
