"""Bodies of `/api/podcasts*`, `/api/routines*` and `/api/runs*` (the
scheduled group), with the conventions of `app.schemas.common`. A routine
step is a command body of `POST /api/players/{id}/commands` (`CommandIn`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.schemas.common import ERRORS, NOT_BLANK, In, Out
from app.schemas.players import CARD_ID_PATTERN, PLAYER_ID_PATTERN, StepIn
from services.podcasts import EPISODES_MAX, REFRESH_HOURS_MAX, REFRESH_HOURS_MIN
from services.routines import STEPS_MAX

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK)]
PlayerId = Annotated[str, Field(min_length=1, max_length=64, pattern=PLAYER_ID_PATTERN)]
CardId = Annotated[str, Field(pattern=CARD_ID_PATTERN)]
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM in FAMILY_TIMEZONE")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Days = Annotated[list[Day], Field(min_length=1, max_length=7)]
FeedUrl = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$")]
Order = Literal["newest_first", "oldest_first"]
Storage = Literal["stream", "yoto"]  # core.storage_modes.MODES, as on /api/cards
Hours = Annotated[float, Field(ge=REFRESH_HOURS_MIN, le=REFRESH_HOURS_MAX)]


# --------------------------------------------------------------------------- steps (command bodies)


def step_bodies(steps: list[Any]) -> list[dict[str, Any]]:
    """Steps as stored: each command body as the player commands route takes it."""
    return [s.model_dump(exclude_none=True, by_alias=True) for s in steps]


# --------------------------------------------------------------------------- runs


def job_responses(model: type[BaseModel], done_status: int, *codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that hands a job to the workers (202): its
    refusals, and `done_status` where a stack runs it in the request."""
    done = {"model": model, "description": "done in the request (an AWS stack with no worker function)"}
    return {**ERRORS(*codes), done_status: done}


class RunOut(Out):
    id: str
    kind: str
    subject_id: str
    trigger: str
    status: Literal["queued", "running", "ok", "partial", "failed"]
    detail: str | None
    results: list[dict[str, Any]]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


# --------------------------------------------------------------------------- podcasts


class PodcastIn(In):
    feed_url: FeedUrl
    episodes: int = Field(ge=1, le=EPISODES_MAX)
    order: Order = "newest_first"
    title: Name | None = None
    refresh_hours: Hours | None = None
    storage: Storage | None = Field(
        default=None,
        description="where the card's audio lives: stream (our signed URLs) or yoto (uploaded to Yoto's storage,"
        " plays offline); omitted: the install's default (yoto unless players can reach PUBLIC_URL)",
    )


class PodcastPatch(In):
    title: Name | None = None
    episodes: int | None = Field(default=None, ge=1, le=EPISODES_MAX)
    order: Order | None = None
    refresh_hours: Hours | None = None
    storage: Storage | None = Field(
        default=None, description="a new mode rewrites the same card in place at the next refresh"
    )


class EpisodeOut(BaseModel):
    guid: str
    title: str
    audio_ids: list[str]


class PodcastOut(Out):
    id: str
    owner: str
    feed_url: str = Field(
        description="whole for its owner and admins; for other members only scheme://host/…"
        " (a private feed's URL carries its secret)"
    )
    title: str
    episodes: int
    order: str
    refresh_hours: float
    storage: Storage
    card_id: str | None
    yoto_card_id: str | None
    held: list[EpisodeOut] = Field(description="the episodes the card holds, in card order")
    status: str
    last_error: str | None
    checked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_run: RunOut | None = None


class PodcastPage(BaseModel):
    items: list[PodcastOut]
    next_cursor: str | None = None


# --------------------------------------------------------------------------- routines


class RoutineIn(In):
    name: Name
    player_id: PlayerId
    at: Clock
    days: Days
    steps: list[StepIn] = Field(min_length=1, max_length=STEPS_MAX, description="command bodies (not next/previous)")
    enabled: bool = True


class _FromTemplate(In):
    player_id: PlayerId
    at: Clock
    days: Days
    name: Name | None = None
    enabled: bool = True


class BedtimeIn(_FromTemplate):
    template: Literal["bedtime"]
    card_id: CardId = Field(description="the card bedtime plays")


class QuietTimeIn(_FromTemplate):
    template: Literal["quiet_time"]

    @property
    def card_id(self) -> None:
        return None


FromTemplateIn = Annotated[BedtimeIn | QuietTimeIn, Field(discriminator="template")]


class RoutineOut(Out):
    id: str
    owner: str
    name: str
    player_id: str
    at: str
    days: list[str]
    steps: list[dict[str, Any]]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None = None
    last_runs: list[RunOut] = Field(default_factory=list)


class RoutinePage(BaseModel):
    items: list[RoutineOut]
    next_cursor: str | None = None
    timezone: str = Field(
        description="the IANA time zone (FAMILY_TIMEZONE) that every `at` is in; `next_run_at` is UTC",
        examples=["Europe/London"],
    )


class TemplateOut(BaseModel):
    name: str
    description: str
    needs_card: bool
    steps: list[dict[str, Any]]
