"""Request and response bodies of `/api/players/{id}/rules` (quiet hours, a daily
listening limit and the notice spoken first; `services.player_rules`). A PUT
replaces all three; a field left out or null is no such rule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import NOT_BLANK, In
from services.player_rules import DAILY_LIMIT_MAX, NOTICE_MAX_CHARS

CLOCK_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
Clock = Annotated[str, Field(pattern=CLOCK_PATTERN, description="HH:MM, 24-hour, the family's time zone")]


class QuietHours(In):
    """The player may not play from `from` until `to` (a window may cross midnight: 19:30 to 07:00)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, serialize_by_alias=True)

    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")


class QuietHoursOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")


Notice = Annotated[str, Field(min_length=1, max_length=NOTICE_MAX_CHARS, pattern=NOT_BLANK)]


class RulesIn(In):
    quiet_hours: QuietHours | None = Field(default=None, description="null or left out: no quiet hours")
    daily_limit_minutes: int | None = Field(
        default=None, ge=0, le=DAILY_LIMIT_MAX, description="minutes of playing allowed per day; null: no limit"
    )
    notice: Notice | None = Field(default=None, description="to be spoken before the pause (not played yet)")

    def body(self) -> dict[str, object]:
        quiet = self.quiet_hours
        return {
            "quiet_hours": {"from": quiet.start, "to": quiet.end} if quiet is not None else None,
            "daily_limit_minutes": self.daily_limit_minutes,
            "notice": self.notice,
        }


class LastPause(BaseModel):
    at: datetime
    breach: Literal["quiet_hours", "daily_limit"]


class RulesOut(BaseModel):
    player_id: str
    quiet_hours: QuietHoursOut | None
    daily_limit_minutes: int | None
    notice: str | None
    enforced_by: str = Field(
        description='the mqttMode of the listener that runs the rules now ("always", "on-demand", "in-process"),'
        ' or "not enforced: <why>"'
    )
    minutes_today: float = Field(description="minutes played since the family's midnight (from the history)")
    in_quiet_hours: bool = Field(description="the family's clock is inside the quiet hours now")
    last_pause: LastPause | None = Field(description="the last pause the rules sent this player")
