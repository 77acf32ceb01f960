"""Bodies of `/api/players/{id}/settings` and `/api/players/{id}/alarms`.

Typed values on our side; `core.yoto.settings` converts them to Yoto's strings.
A field left out of a PATCH is left as it is (never sent as null).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from app.schemas.common import In
from core.yoto.settings import DAYS, capabilities

if TYPE_CHECKING:
    from services.player_settings import AlarmView, PlayerSettings

Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description='"HH:MM"', examples=["19:00"])]
Percent = Annotated[int, Field(ge=0, le=100)]
Brightness = Percent | Literal["auto"]
Colour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#f57399"])]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Seconds = Annotated[int, Field(ge=0, le=86_400)]
SETTING_NAMES = Literal[
    "day_starts",
    "night_starts",
    "day_max_volume",
    "night_max_volume",
    "day_brightness",
    "night_brightness",
    "day_ambient",
    "night_ambient",
    "clock_face",
    "hour_format",
    "bluetooth",
    "bluetooth_headphones",
    "headphones_volume_limited",
    "shutdown_timeout_s",
    "repeat_all",
]
_VOLUME = "0–100, kept as the nearest of the player's 17 steps (0–16)"


class SettingsOut(BaseModel):
    """A player's settings. A value the config holds in no form we can read is null."""

    player_id: str
    model: str = Field(description="Yoto's device family: v3, v2, v1, mini (unknown ones are offered v2's settings)")
    supported: list[SETTING_NAMES] = Field(description="the settings this player has")
    light_sensor: bool = Field(description='whether it has a light sensor: "auto" brightness needs one')
    day_starts: str | None
    night_starts: str | None
    day_max_volume: int | None = Field(description=_VOLUME)
    night_max_volume: int | None = Field(description=_VOLUME)
    day_brightness: int | Literal["auto"] | None = Field(description='display brightness, 0–100 or "auto"')
    night_brightness: int | Literal["auto"] | None
    day_ambient: str | None = Field(description="the light ring's colour by day; null on a player without one")
    night_ambient: str | None = Field(description="the night light's colour")
    clock_face: str | None
    hour_format: Literal[12, 24] | None
    bluetooth: bool | None
    bluetooth_headphones: bool | None
    headphones_volume_limited: bool | None
    shutdown_timeout_s: int | None = Field(description="the player switches off after this long unused")
    repeat_all: bool | None

    @classmethod
    def of(cls, view: PlayerSettings) -> SettingsOut:
        return cls.model_validate(
            {
                **view.values,
                "player_id": view.player_id,
                "model": view.model,
                "supported": view.supported,
                "light_sensor": capabilities(view.model).light_sensor,
            }
        )


class SettingsIn(In):
    """The settings to change; the others stay as they are (also those this service does not know)."""

    day_starts: Clock | SkipJsonSchema[None] = None
    night_starts: Clock | SkipJsonSchema[None] = None
    day_max_volume: Percent | SkipJsonSchema[None] = Field(default=None, description=_VOLUME)
    night_max_volume: Percent | SkipJsonSchema[None] = Field(default=None, description=_VOLUME)
    day_brightness: Brightness | SkipJsonSchema[None] = Field(
        default=None, description='"auto" needs a light sensor (v3)'
    )
    night_brightness: Brightness | SkipJsonSchema[None] = None
    day_ambient: Colour | SkipJsonSchema[None] = Field(default=None, description="not on a Mini")
    night_ambient: Colour | SkipJsonSchema[None] = Field(default=None, description="not on a Mini")
    clock_face: (
        Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_<>/.-]+$")] | SkipJsonSchema[None]
    ) = None
    hour_format: Literal[12, 24] | SkipJsonSchema[None] = None
    bluetooth: bool | SkipJsonSchema[None] = None
    bluetooth_headphones: bool | SkipJsonSchema[None] = None
    headphones_volume_limited: bool | SkipJsonSchema[None] = None
    shutdown_timeout_s: Seconds | SkipJsonSchema[None] = None
    repeat_all: bool | SkipJsonSchema[None] = None


class AlarmOut(BaseModel):
    n: int = Field(description="its place in the player's list (the path's {n})")
    days: list[Day]
    time: str | None = Field(description='"HH:MM"; null when Yoto holds a time we cannot read')
    volume: int | None = Field(description=_VOLUME)
    card_id: str | None = Field(description="the Yoto card id of the family's card it plays")
    sound: str | None = Field(description="what it plays when that is not a card of ours (a built-in sound)")
    enabled: bool

    @classmethod
    def of(cls, view: AlarmView) -> AlarmOut:
        return cls.model_validate(view, from_attributes=True)


class AlarmsOut(BaseModel):
    alarms: list[AlarmOut]


_CARD = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="a Yoto card id of the family's cards")]
_SOUND = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_./:<>-]{0,128}$", description="a built-in sound's id; \"\": the player's own")
]
_DAYS = Annotated[list[Day], Field(min_length=1, max_length=7, description=f"some of {', '.join(DAYS)}")]


class AlarmIn(In):
    days: _DAYS
    time: Clock
    volume: Percent | SkipJsonSchema[None] = Field(default=None, description=f"{_VOLUME}; 50 when left out")
    card_id: _CARD | SkipJsonSchema[None] = None
    sound: _SOUND | SkipJsonSchema[None] = None
    enabled: bool = True


class AlarmPatch(In):
    days: _DAYS | SkipJsonSchema[None] = None
    time: Clock | SkipJsonSchema[None] = None
    volume: Percent | SkipJsonSchema[None] = None
    card_id: _CARD | SkipJsonSchema[None] = None
    sound: _SOUND | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = None
