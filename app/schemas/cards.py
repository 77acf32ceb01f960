"""Bodies of `/api/cards*` and `/api/icons*`, and the ids and titles the
playlists' bodies share with them. Constraints the services enforce are
declared too; limits that are settings (MAX_CARD_TRACKS) are checked by the
services, under a fixed ceiling here (`ITEMS_CEILING`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.common import NOT_BLANK, In, Out
from app.schemas.scheduled import RunOut
from core.records import Card
from core.usernames import name_of
from services.card_content import TITLE_MAX

ID_PATTERN = r"^[A-Za-z0-9]+$"
AudioId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
CardTitle = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK)]
# A Yoto media id (public icons have 43 characters of base64url).
MediaId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
# The most tracks or items any configuration allows; MAX_CARD_TRACKS (default 100) is the real limit.
ITEMS_CEILING = 500
Storage = Literal["stream", "yoto"]


class CardTrackIn(In):
    audio_id: AudioId
    title: CardTitle | None = None
    icon: MediaId | None = Field(default=None, description="a Yoto media id; overrides the chosen icon")


class CardIn(In):
    title: CardTitle
    description: str | None = Field(default=None, max_length=2000)
    author: str | None = Field(default=None, max_length=200)
    tracks: list[CardTrackIn] = Field(min_length=1, max_length=ITEMS_CEILING)
    storage: Storage | None = Field(
        default=None,
        description="stream: our signed URLs, fetched as it plays; yoto: uploaded to Yoto's storage, plays offline."
        " Omitted: the card's own mode, or for a new card yoto unless PUBLIC_URL is a public https address",
    )


class CardTrackOut(BaseModel):
    audio_id: str
    title: str | None = Field(description="the title asked for; null: the audio item's")
    icon: str | None = Field(description="the icon asked for; null: chosen by matching titles")
    chosen_icon: str | None = Field(description="the icon media id written on the card")


class CardOut(BaseModel):
    id: str
    owner: str
    title: str
    description: str | None
    author: str | None
    cover_url: str | None
    yoto_card_id: str | None
    playlist_id: str | None
    story_id: str | None = Field(description="the branching story whose interactive card this is; edit the story")
    storage: Storage
    tracks: list[CardTrackOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, card: Card) -> CardOut:
        def at(values: tuple[str, ...], i: int) -> str | None:
            return (values[i] or None) if i < len(values) else None

        tracks = [
            CardTrackOut(
                audio_id=a,
                title=at(card.track_titles, i),
                icon=at(card.track_icons, i),
                chosen_icon=at(card.chosen_icons, i),
            )
            for i, a in enumerate(card.audio_ids)
        ]
        return cls(
            id=card.id,
            owner=name_of(card.owner),
            title=card.title,
            description=card.description,
            author=card.author,
            cover_url=card.cover_url,
            yoto_card_id=card.yoto_card_id,
            playlist_id=card.playlist_id,
            story_id=card.story_id,
            storage=card.storage,  # type: ignore[arg-type]
            tracks=tracks,
            created_at=card.created_at,
            updated_at=card.updated_at,
        )


class TrackCheckOut(BaseModel):
    chapter: int
    track: int
    title: str
    kind: Literal["stream", "audio", "other"]
    audio_id: str | None
    ok: bool
    problems: list[str]


class CardCheckOut(BaseModel):
    """What a player would meet on each track, and what is wrong; `repair` rewrites it."""

    card_id: str
    storage: Storage
    ok: bool
    problems: list[str] = Field(description="the card's own (no Yoto card, tracks of the other mode)")
    tracks: list[TrackCheckOut]


class CardUploadOut(BaseModel):
    """A write queued behind its uploads to Yoto's storage: follow the run (`GET /api/runs/{id}`,
    each track's phase and percent in `results`). The run's `subject_id` is the card it writes
    (for a new card, the id it will have: `GET /api/cards/{id}` is a 404 until the run ends ok)."""

    run: RunOut


class CardPage(BaseModel):
    items: list[CardOut]
    next_cursor: str | None = None


class IconOut(Out):
    media_id: str
    title: str
    tags: list[str]
    url: str | None


class IconsOut(BaseModel):
    items: list[IconOut]
