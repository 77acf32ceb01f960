"""The account's players as the REST side sees them: list, status, config.

A config PUT replaces the whole block: keys the client leaves out fall back
to the firmware defaults below, which is the trap the shared notes warn of
(always read, merge, then write).
"""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from typing import Any

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

_TIME_KEYS = ("dayTime", "nightTime")
_ALARM = re.compile(r"[01]{7},\d{4},[^,]*,[^,]*,[^,]*,\d{0,3}(,[01])?")


def _default_status(device_id: str, online: bool) -> dict[str, Any]:
    return {
        "deviceId": device_id,
        "activeCard": "none",
        "batteryLevelPercentage": 87,
        "isCharging": False,
        "isOnline": online,
        "userVolumePercentage": 50,
        "systemVolumePercentage": 100,
        "temperatureCelcius": 21,
        "wifiStrength": -52,
        "ambientLightSensorReading": 12,
        "cardInsertionState": 0,
        "dayMode": 1,
        "freeDiskSpaceBytes": 1_500_000_000,
        "totalDiskSpaceBytes": 7_500_000_000,
        "isAudioDeviceConnected": False,
        "isBluetoothAudioConnected": False,
        "networkSsid": "FamilyWiFi",
        "nightlightMode": "off",
        "powerSource": 2,
        "firmwareVersion": "v2.17.5",
        "uptime": 3600,
        "utcOffsetSeconds": 0,
    }


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
    status_forbidden: bool = False

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
        return {**_default_status(self.device_id, self.online), **self.status, "isOnline": self.online}


# Two players every fresh cloud has; ids contain "-" on purpose.
DEFAULT_DEVICES: tuple[tuple[str, str, str], ...] = (
    ("yoto-player-9c1e", "Bedroom Player", "v3"),
    ("yoto-mini-4f2a", "Kitchen Mini", "mini"),
)


def check_config(config: dict[str, Any]) -> None:
    for key in _TIME_KEYS:
        value = config.get(key)
        if value is not None and (not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value)):
            raise HttpError(400, f'config.{key} must be "HH:MM" (got {value!r})')
    alarms = config.get("alarms")
    if alarms is not None:
        if not isinstance(alarms, list):
            raise HttpError(400, "config.alarms must be a list of strings")
        for i, alarm in enumerate(alarms):
            if not isinstance(alarm, str) or not _ALARM.fullmatch(alarm):
                raise HttpError(400, f"config.alarms[{i}] must be 'days,HHMM,soundId,_,_,volume[,enabled]'")


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
        self,
        device_id: str,
        status: dict[str, Any] | None = None,
        online: bool | None = None,
        forbidden: bool | None = None,
    ) -> Device:
        device = self.get(device_id)
        with self._lock:
            if status:
                device.status.update(status)
            if online is not None:
                device.online = online
            if forbidden is not None:
                device.status_forbidden = forbidden
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
