"""A player's settings and alarms: the API's typed values <-> Yoto's config block.

One table says which config key holds each setting and how it is encoded; alarms
are Yoto's comma-separated strings, parsed and written back keeping every field
this code does not understand. Capabilities by model decide what a player offers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.yoto.protocol import volume_from_device, volume_to_device

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"([01]\d|2[0-3]):?([0-5]\d)")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


class SettingError(ValueError):
    """A value this player cannot take; the message says which and why."""


@dataclass(frozen=True)
class Capabilities:
    ambient_light: bool
    light_sensor: bool


# By `deviceFamily`; an unknown family is treated as a v2, the common modern player.
CAPABILITIES = {
    "v1": Capabilities(ambient_light=True, light_sensor=False),
    "v2": Capabilities(ambient_light=True, light_sensor=False),
    "v3": Capabilities(ambient_light=True, light_sensor=True),
    "mini": Capabilities(ambient_light=False, light_sensor=False),
}
DEFAULT_FAMILY = "v2"


def model_of(device: Mapping[str, Any]) -> str:
    """The player's family from the device block of /config (or the device list)."""
    for key in ("deviceFamily", "deviceType"):
        value = device.get(key)
        if isinstance(value, str) and value:
            return value.lower()
    return "unknown"


def capabilities(model: str) -> Capabilities:
    return CAPABILITIES.get(model, CAPABILITIES[DEFAULT_FAMILY])


# --------------------------------------------------------------------------- value kinds


def _time(value: Any) -> str:
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise SettingError(f'must be a time "HH:MM" (got {value!r})')
    return f"{match[1]}:{match[2]}"


def _whole(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise SettingError(f"must be a whole number from {low} to {high} (got {value!r})")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingError(f"must be a whole number from {low} to {high} (got {value!r})") from None
    if not low <= number <= high:
        raise SettingError(f"must be from {low} to {high} (got {number})")
    return number


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return str(value) == "1"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SettingError(f"must be true or false (got {value!r})")


@dataclass(frozen=True)
class Field:
    """One setting: its API name, its config key and its kind."""

    name: str
    key: str
    kind: str  # time | volume | brightness | colour | hour | flag | seconds | text
    needs_ambient: bool = False
    flag_form: str = "bool"  # how a flag the config lacks is written: "bool" or "01"

    def read(self, raw: Any) -> Any:
        """The API's value of a config value; None for one that cannot be read."""
        try:
            return self._read(raw)
        except SettingError:
            return None

    def _read(self, raw: Any) -> Any:
        if raw is None:
            return None
        kind = self.kind
        if kind == "time":
            return _time(raw)
        if kind == "volume":
            return volume_from_device(_whole(raw, 0, 16))
        if kind == "brightness":
            return "auto" if raw == "auto" else _whole(raw, 0, 100)
        if kind == "colour":
            if raw in ("#0", "off", "#000"):
                return "#000000"
            if isinstance(raw, str) and _COLOUR.fullmatch(raw):
                return raw.lower()
            raise SettingError("not a colour")
        if kind == "hour":
            return _whole(raw, 12, 24) if str(raw) in ("12", "24") else None
        if kind == "flag":
            return _flag(raw)
        if kind == "seconds":
            return _whole(raw, 0, 86_400)
        return raw if isinstance(raw, str) else None

    def write(self, value: Any, current: Any, caps: Capabilities, model: str) -> Any:
        """The config value for an API value, in the form the config already uses."""
        kind = self.kind
        if kind == "time":
            written = _time(value)
            return written.replace(":", "") if isinstance(current, str) and ":" not in current else written
        if kind == "volume":
            return str(volume_to_device(_whole(value, 0, 100)))
        if kind == "brightness":
            if value == "auto":
                if not caps.light_sensor:
                    raise SettingError(f'"auto" needs a light sensor, which a {model} player does not have')
                return "auto"
            return str(_whole(value, 0, 100))
        if kind == "colour":
            if not isinstance(value, str) or not _COLOUR.fullmatch(value):
                raise SettingError(f'must be a colour "#rrggbb" (got {value!r})')
            return value.lower()
        if kind == "hour":
            if value not in (12, 24) or isinstance(value, bool):
                raise SettingError(f"must be 12 or 24 (got {value!r})")
            return str(value)
        if kind == "flag":
            on = _flag(value) if not isinstance(value, bool) else value
            form = _flag_form(current) or self.flag_form
            return on if form == "bool" else ("1" if on else "0")
        if kind == "seconds":
            return str(_whole(value, 0, 86_400))
        if not isinstance(value, str) or not 0 < len(value) <= 64:
            raise SettingError(f"must be a name of 1 to 64 characters (got {value!r})")
        return value


def _flag_form(current: Any) -> str | None:
    if isinstance(current, bool):
        return "bool"
    if current in ("0", "1"):
        return "01"
    return None


FIELDS: tuple[Field, ...] = (
    Field("day_starts", "dayTime", "time"),
    Field("night_starts", "nightTime", "time"),
    Field("day_max_volume", "maxVolumeLimit", "volume"),
    Field("night_max_volume", "nightMaxVolumeLimit", "volume"),
    Field("day_brightness", "dayDisplayBrightness", "brightness"),
    Field("night_brightness", "nightDisplayBrightness", "brightness"),
    Field("day_ambient", "ambientColour", "colour", needs_ambient=True),
    Field("night_ambient", "nightAmbientColour", "colour", needs_ambient=True),
    Field("clock_face", "clockFace", "text"),
    Field("hour_format", "hourFormat", "hour"),
    Field("bluetooth", "bluetoothEnabled", "flag", flag_form="01"),
    Field("bluetooth_headphones", "btHeadphonesEnabled", "flag"),
    Field("headphones_volume_limited", "headphonesVolumeLimited", "flag"),
    Field("shutdown_timeout_s", "shutdownTimeout", "seconds"),
    Field("repeat_all", "repeatAll", "flag"),
)
BY_NAME = {f.name: f for f in FIELDS}


def supported(model: str) -> list[str]:
    caps = capabilities(model)
    return [f.name for f in FIELDS if caps.ambient_light or not f.needs_ambient]


def read_settings(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Every setting the player has, typed (None where the config holds nothing readable)."""
    offered = set(supported(model))
    return {f.name: (f.read(config.get(f.key)) if f.name in offered else None) for f in FIELDS}


def changes_for(config: Mapping[str, Any], model: str, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The config keys to change for the API values in `wanted`; `SettingError` naming
    the setting (and the model, for one the player lacks)."""
    caps = capabilities(model)
    offered = set(supported(model))
    out: dict[str, Any] = {}
    for name, value in wanted.items():
        spec = BY_NAME.get(name)
        if spec is None:
            raise SettingError(f"{name}: no such setting; one of {', '.join(BY_NAME)}")
        if name not in offered:
            raise SettingError(f"{name}: a {model} player has no ambient light")
        try:
            out[spec.key] = spec.write(value, config.get(spec.key), caps, model)
        except SettingError as exc:
            raise SettingError(f"{name} {exc}") from None
    return out


# --------------------------------------------------------------------------- alarms


@dataclass(frozen=True)
class Alarm:
    """One alarm. `fields` are the string's parts as Yoto holds them; the typed
    values are read from them, and an edit rewrites only the parts it changes."""

    fields: tuple[str, ...]

    def _part(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    @property
    def days(self) -> list[str]:
        mask = self._part(0)
        return [day for day, bit in zip(DAYS, mask, strict=False) if bit == "1"]

    @property
    def time(self) -> str | None:
        try:
            return _time(self._part(1))
        except SettingError:
            return None

    @property
    def plays(self) -> str | None:
        return self._part(2) or None

    @property
    def volume(self) -> int | None:
        try:
            return volume_from_device(_whole(self._part(5), 0, 16))
        except SettingError:
            return None

    @property
    def enabled(self) -> bool:
        return self._part(6) != "0"

    def encoded(self) -> str:
        return ",".join(self.fields)

    def edited(self, **values: Any) -> Alarm:
        """A copy with the given typed values (`days`, `time`, `plays`, `volume`, `enabled`)."""
        parts = list(self.fields) + [""] * max(0, 7 - len(self.fields))
        if "days" in values:
            parts[0] = day_mask(values["days"])
        if "time" in values:
            written = _time(values["time"])
            parts[1] = written.replace(":", "") if parts[1] and ":" not in parts[1] else written
        if "plays" in values:
            plays = values["plays"] or ""
            if "," in plays or len(plays) > 128:
                raise SettingError(f"alarm sound or card {plays!r} cannot be written (no commas, at most 128)")
            parts[2] = plays
        if "volume" in values:
            parts[5] = str(volume_to_device(_whole(values["volume"], 0, 100)))
        if "enabled" in values:
            parts[6] = "1" if _flag(values["enabled"]) else "0"
        return replace(self, fields=tuple(parts))


def day_mask(days: Any) -> str:
    if not isinstance(days, list | tuple) or not days:
        raise SettingError(f"days must be a list of one or more of {', '.join(DAYS)}")
    unknown = [d for d in days if d not in DAYS]
    if unknown:
        raise SettingError(f"days: {unknown[0]!r} is not one of {', '.join(DAYS)}")
    return "".join("1" if day in days else "0" for day in DAYS)


def parse_alarms(config: Mapping[str, Any]) -> list[Alarm]:
    raw = config.get("alarms")
    if not isinstance(raw, list):
        return []
    return [Alarm(tuple(a.split(","))) for a in raw if isinstance(a, str)]


def new_alarm(**values: Any) -> Alarm:
    """An alarm in the form cdnninja/yoto_api writes (`days,HH:MM,sound,,,volume,enabled`)."""
    base = Alarm(("0000000", "07:00", "", "", "", "8", "1"))
    return base.edited(**values)
