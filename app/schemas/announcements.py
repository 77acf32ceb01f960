"""Bodies of `/api/announcements`: the text and players in, each player's outcome out
(rules in `services.announcements`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.schemas.common import NOT_BLANK, In
from app.schemas.players import PLAYER_ID_PATTERN
from app.schemas.scheduled import RunOut

PlayerId = Annotated[str, Field(min_length=1, max_length=64, pattern=PLAYER_ID_PATTERN)]


class AnnouncementIn(In):
    text: str = Field(
        min_length=1, max_length=1000, pattern=NOT_BLANK, description="what is spoken (TTS quota applies)"
    )
    player_ids: list[PlayerId] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="the players to announce on; omitted: every player you may use",
    )


class ResumedOut(BaseModel):
    card_id: str
    chapter_key: str | None
    track_key: str | None
    seconds_in: int


class AnnouncedOut(BaseModel):
    """What happened on one player."""

    player_id: str
    name: str
    outcome: Literal["resumed", "stayed_idle", "played", "left_alone", "failed"] = Field(
        description="resumed: back where it was (`resumed_to`); stayed_idle: it was not playing and is stopped;"
        " played: where it was is not known, so it stays stopped; left_alone: someone started another card"
        " meanwhile; failed: `detail` says why"
    )
    ended_by: Literal["events", "timer"] | None = Field(
        default=None,
        description="events: the player's events showed the end (a listener runs); timer: the spoken length"
        " plus a margin passed",
    )
    resumed_to: ResumedOut | None = None
    detail: str | None = None


class AnnouncementOut(BaseModel):
    """Played and put back in the request: the run, and each player's outcome (also the run's `results`)."""

    run: RunOut
    players: list[AnnouncedOut]

    @classmethod
    def of(cls, run: Any) -> AnnouncementOut:
        return cls(run=RunOut.of(run), players=[AnnouncedOut.model_validate(r) for r in run.results])


class AnnouncementQueuedOut(BaseModel):
    """Queued (a card in Yoto's storage waits for its upload and transcode, or the speech is long):
    follow `GET /api/runs/{id}`; its `results` become each player's outcome (`AnnouncedOut`)."""

    run: RunOut
