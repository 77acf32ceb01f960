"""Request and response bodies of the Yoto routes: account link, cards, playlists, icons.

Constraints the services enforce are declared here too, so the OpenAPI
document tells the truth; limits that are settings (MAX_CARD_TRACKS) are
checked by the services against the setting, under a fixed ceiling here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.schemas import NOT_BLANK, In, Out
from core.records import Card
from core.usernames import name_of
from services.card_content import TITLE_MAX
from services.playlist_cards import SyncState
from services.playlists import LOOP_REFUSED, PlaylistView

ID_PATTERN = r"^[A-Za-z0-9]+$"
AudioId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
CardTitle = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK)]
# A Yoto media id (public icons have 43 characters of base64url).
MediaId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
# The most tracks or items any configuration allows; MAX_CARD_TRACKS (default 100) is the real limit.
ITEMS_CEILING = 500


def _no_loop(value: object) -> object:
    """`loop` (offered by earlier versions) is refused with the reason, not as an unknown word."""
    if value == "loop":
        raise ValueError(LOOP_REFUSED)
    return value


PlayMode = Literal["sequential", "shuffle"]
PlayModeIn = Annotated[PlayMode, BeforeValidator(_no_loop)]
Version = Annotated[int, Field(ge=1, le=2**53)]

# --------------------------------------------------------------------------- account link


class YotoStatusOut(BaseModel):
    linked: bool
    access_expires_at: datetime | None = None
    linked_at: datetime | None = None
    login_pending: bool = False
    device_login_pending: bool = False


class DeviceLoginOut(BaseModel):
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    interval: float
    expires_in: int


class DevicePollOut(BaseModel):
    status: Literal["pending", "linked", "expired"]
    interval: float | None = Field(default=None, description="seconds to wait before polling again")
    detail: str | None = None


# --------------------------------------------------------------------------- cards


class CardTrackIn(In):
    audio_id: AudioId
    title: CardTitle | None = None
    icon: MediaId | None = Field(default=None, description="a Yoto media id; overrides the chosen icon")


class CardIn(In):
    title: CardTitle
    description: str | None = Field(default=None, max_length=2000)
    author: str | None = Field(default=None, max_length=200)
    tracks: list[CardTrackIn] = Field(min_length=1, max_length=ITEMS_CEILING)


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
            tracks=tracks,
            created_at=card.created_at,
            updated_at=card.updated_at,
        )


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


# --------------------------------------------------------------------------- playlists


class PlaylistIn(In):
    name: CardTitle
    audio_ids: list[AudioId] = Field(default_factory=list, max_length=ITEMS_CEILING)
    play_mode: PlayModeIn = "sequential"


class PlaylistPut(In):
    name: CardTitle | None = None
    audio_ids: list[AudioId] | None = Field(default=None, max_length=ITEMS_CEILING)
    play_mode: PlayModeIn | None = None
    version: Version | None = Field(default=None, description="the version you last read; 409 if it moved on")


class PlaylistItemIn(In):
    audio_id: AudioId
    at: int | None = Field(default=None, ge=0, le=ITEMS_CEILING, description="insert before this index; null: append")
    version: Version | None = None


class PlaylistMoveIn(In):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)

    from_: int = Field(alias="from", ge=0, le=ITEMS_CEILING)
    to: int = Field(ge=0, le=ITEMS_CEILING)
    version: Version | None = None


class CardSyncOut(BaseModel):
    state: Literal["none", "synced", "pending", "failed"]
    due_in_s: float | None = Field(default=None, description="pending: read the playlist again after this long")
    detail: str | None = None

    @classmethod
    def of(cls, sync: SyncState) -> CardSyncOut:
        return cls(state=sync.state, due_in_s=sync.due_in_s, detail=sync.detail)


class PlaylistOut(BaseModel):
    id: str
    owner: str
    name: str
    audio_ids: list[str]
    play_mode: PlayMode
    version: int
    card_id: str | None
    yoto_card_id: str | None
    card_sync: CardSyncOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: PlaylistView) -> PlaylistOut:
        p = view.playlist
        return cls(
            id=p.id,
            owner=name_of(p.owner),
            name=p.name,
            audio_ids=list(p.audio_ids),
            play_mode=p.play_mode,  # type: ignore[arg-type]
            version=p.version,
            card_id=p.card_id,
            yoto_card_id=view.yoto_card_id,
            card_sync=CardSyncOut.of(view.sync),
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PlaylistPage(BaseModel):
    items: list[PlaylistOut]
    next_cursor: str | None = None
