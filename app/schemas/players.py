"""Request and response bodies of `/api/players*` and `/api/health/mqtt`.

A command body is one of the models below, chosen by its `action`. Request
bodies are strict like every other (`app.schemas.common.In`); an optional field may
be left out but not sent as `null`, so the OpenAPI document is exact.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.schemas.common import In
from core.yoto.payloads import SLEEP_TIMER_MAX_MINUTES
from services.bedtime import RAMP_MINUTES_MAX

if TYPE_CHECKING:
    from services.players import PlayerView

PLAYER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
CARD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
HEX_PATTERN = r"^#?([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$"


class PlayerOut(BaseModel):
    """A player: the REST device list merged with what arrived over MQTT."""

    id: str
    name: str
    online: bool
    volume: int | None = Field(description="0–100 (the nearest of the player's 17 steps)")
    playback_status: Literal["playing", "paused", "stopped"]
    card_id: str | None
    chapter_key: str | None
    track_key: str | None
    chapter_title: str | None
    track_title: str | None
    position_s: float | None
    track_length_s: float | None
    sleep_timer_s: float | None = Field(description="seconds left; 0 when off")
    battery_percent: int | None
    charging: bool | None
    wifi_strength_dbm: float | None = Field(description="from the player's full status")
    ssid: str | None
    uptime_s: float | None
    temperature_c: float | None
    free_disk_mb: int | None
    updated_at: datetime | None
    heard_at: datetime | None = Field(description="the last message from the player over MQTT; null: none yet")
    stale: bool = Field(
        description="nothing arrived from the player for longer than its events last (5 min): the state above"
        " is what it was then, not now"
    )
    owner: str = Field(description="the member whose linked Yoto account has the player")
    private: bool = Field(description="kept for its owner by an admin: only they and admins see and drive it")

    @classmethod
    def of(cls, view: PlayerView) -> PlayerOut:
        return cls.model_validate(asdict(view))


class PlayerPrivateIn(In):
    private: bool = Field(description="true: only the player's owner and admins; false: the whole family")


class PlayersOut(BaseModel):
    items: list[PlayerOut]
    live: bool = Field(description="a listener is running, so the MQTT state is current")
    stream: bool = Field(description="GET /api/players/stream pushes changes here; else poll this list")
    poll_interval_s: int = Field(description="how often to poll when there is no stream")
    sleep_at_end: SleepAtEndOut = Field(
        description='whether `{"action": "sleep_timer", "at_end_of": ...}` can be carried out here now'
    )


class _NoNulls(In):
    """Optional fields may be left out, not sent as null."""

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(k for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"{', '.join(nulls)} must not be null (leave it out instead)")
        return data


# A bound on `int | SkipJsonSchema[None]` itself is written as pydantic's
# `ge`/`le`, which no JSON Schema reader knows: the bound goes on the int.
Position = Annotated[int, Field(ge=1, le=999)]


Offset = Annotated[int, Field(ge=0, le=24 * 3600)]


class PlayIn(_NoNulls):
    """With only `card_id` the player resumes the card where it was left off; with a
    `chapter`, `track` or `seconds_in` it starts there (`seconds_in` 0 by default)."""

    action: Literal["play"]
    card_id: str = Field(pattern=CARD_ID_PATTERN, description="a Yoto card id")
    chapter: Position | SkipJsonSchema[None] = Field(default=None, description="sent zero-padded")
    track: Position | SkipJsonSchema[None] = Field(default=None, description="sent zero-padded")
    seconds_in: Offset | SkipJsonSchema[None] = Field(default=None, description="seconds into the chapter or track")


class PauseIn(In):
    action: Literal["pause"]


class ResumeIn(In):
    action: Literal["resume"]


class StopIn(In):
    action: Literal["stop"]


class NextIn(In):
    """The next chapter of the card that is playing."""

    action: Literal["next"]


class PreviousIn(In):
    action: Literal["previous"]


class StatusIn(In):
    """Ask the player for its status (the answer arrives in the player's state)."""

    action: Literal["status"]


class VolumeIn(In):
    action: Literal["volume"]
    volume: int = Field(ge=0, le=100)


class SleepTimerIn(_NoNulls):
    """`minutes` (0 turns the timer off), or `at_end_of`: pause when the track or chapter
    playing now ends, which the listener carries out (409 where none runs that would see it)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["minutes"]}, {"required": ["at_end_of"]}]})

    action: Literal["sleep_timer"]
    minutes: Annotated[int, Field(ge=0, le=SLEEP_TIMER_MAX_MINUTES)] | SkipJsonSchema[None] = Field(
        default=None, description="0 turns the timer off"
    )
    at_end_of: Literal["track", "chapter"] | SkipJsonSchema[None] = Field(
        default=None, description="pause when the track (or chapter) playing now ends"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SleepTimerIn:
        if (self.minutes is None) == (self.at_end_of is None):
            raise ValueError("sleep_timer needs minutes or at_end_of (one of them)")
        return self


_RGB = Annotated[int, Field(ge=0, le=255)]
_HEX = Annotated[str, Field(pattern=HEX_PATTERN)]  # on the str: on the union pydantic drops it from the schema
_HEX_ONLY = {"required": ["hex"], "not": {"anyOf": [{"required": [c]} for c in "rgb"]}}
_RGB_ONLY = {"required": ["r", "g", "b"], "not": {"required": ["hex"]}}


class AmbientIn(_NoNulls):
    """The night light: `hex` (`#rrggbb` or `#rgb`), or all of `r`, `g`, `b`."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [_HEX_ONLY, _RGB_ONLY]})

    action: Literal["ambient"]
    hex: _HEX | SkipJsonSchema[None] = None
    r: _RGB | SkipJsonSchema[None] = None
    g: _RGB | SkipJsonSchema[None] = None
    b: _RGB | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _one_colour(self) -> AmbientIn:
        rgb = [v is not None for v in (self.r, self.g, self.b)]
        if self.hex is not None and any(rgb):
            raise ValueError("give either hex or r, g, b, not both")
        if self.hex is None and not all(rgb):
            raise ValueError("ambient needs hex or all of r, g, b")
        return self


class LightRampIn(_NoNulls):
    """A routine's step: the night light faded from `from` to `to` over `minutes` (at most one
    change per 30 s), then the colour the player's config shows at that hour. Not on a Mini."""

    model_config = ConfigDict(populate_by_name=True)

    action: Literal["light_ramp"]
    from_: str = Field(alias="from", pattern=r"^#[0-9A-Fa-f]{6}$", description="#rrggbb")
    to: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="#rrggbb")
    minutes: int = Field(ge=1, le=RAMP_MINUTES_MAX, description="a routine's ramps last 12 minutes at most together")


CommandIn = Annotated[
    PlayIn | PauseIn | ResumeIn | StopIn | VolumeIn | SleepTimerIn | AmbientIn | NextIn | PreviousIn | StatusIn,
    Field(discriminator="action"),
]
# A routine's step: a command that needs no current state (next/previous are
# computed from what is playing when the command is sent, so a routine has none).
StepIn = Annotated[
    PlayIn | PauseIn | ResumeIn | StopIn | VolumeIn | SleepTimerIn | AmbientIn | StatusIn | LightRampIn,
    Field(discriminator="action"),
]


class CommandOut(BaseModel):
    ok: Literal[True]
    action: str
    via: Literal["listener", "short-lived"] = Field(
        description="over the running listener's connection, or a connection opened for this command"
    )
    elapsed_ms: int = Field(description="publish to acknowledgement")
    at_end_of: Literal["track", "chapter"] | None = Field(
        default=None,
        description="a sleep at the end of the track or chapter: the listener pauses the player when it ends"
        " (`elapsed_ms` 0: nothing was sent yet; non-zero: it had ended already and the pause went out now)",
    )


class SleepAtEndOut(BaseModel):
    available: bool = Field(description="a listener runs that will see a track end (mqttMode always, or make run)")
    reason: str | None = Field(description="why not, when not")


class TrackPlays(BaseModel):
    chapter_key: str | None
    track_key: str | None
    chapter_title: str | None
    track_title: str | None
    plays: int
    minutes: float


class CardPlays(BaseModel):
    card_id: str
    plays: int
    minutes: float
    tracks: list[TrackPlays]


class HistoryOut(BaseModel):
    player_id: str
    days: int
    since: datetime
    until: datetime
    total_minutes: float
    plays: int
    cards: list[CardPlays] = Field(description="most listened first")


class MqttHealthOut(BaseModel):
    """The listener's heartbeat record, as the container health check reads it."""

    status: Literal["ok", "degraded", "down"]
    live: bool
    mode: str | None
    heartbeat_at: datetime | None
    age_s: float | None
    last_contact: datetime | None = Field(description="the last message from the broker")
    accounts: int
    connected_accounts: int
    counts: dict[str, int]
    ends_at: datetime | None = Field(description="an on-demand listener stops by itself then")
