"""Bodies of `/api/playlists*`: playlists, their items and their card's sync state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.schemas.cards import ITEMS_CEILING, AudioId, CardTitle, Storage
from app.schemas.common import In
from core.usernames import name_of
from services.playlist_cards import SyncState
from services.playlists import LOOP_REFUSED, PlaylistView


def _no_loop(value: object) -> object:
    """`loop` (offered by earlier versions) is refused with the reason, not as an unknown word."""
    if value == "loop":
        raise ValueError(LOOP_REFUSED)
    return value


PlayMode = Literal["sequential", "shuffle"]
PlayModeIn = Annotated[PlayMode, BeforeValidator(_no_loop)]
Version = Annotated[int, Field(ge=1, le=2**53)]
STORAGE_HELP = (
    "where the card's audio lives. stream: our signed URLs, fetched as it plays; yoto: uploaded to Yoto's storage"
    " before each write, plays offline."
)


class PlaylistIn(In):
    name: CardTitle
    audio_ids: list[AudioId] = Field(default_factory=list, max_length=ITEMS_CEILING)
    play_mode: PlayModeIn = "sequential"
    storage: Storage | None = Field(
        default=None, description=STORAGE_HELP + " Omitted: yoto unless PUBLIC_URL is a public https address"
    )


class OpensIn(In):
    """A day-by-day card: chapter n opens at midnight (FAMILY_TIMEZONE) of `from` plus n-1 days or weeks;
    the player itself keeps each chapter shut until then (Yoto's `availableFrom`), offline too."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)

    from_: str = Field(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-01"], description="YYYY-MM-DD")
    every: Literal["day", "week"] = "day"

    def schedule(self) -> dict[str, str]:
        return {"from": self.from_, "every": self.every}


class OpensOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", serialization_alias="from")
    every: Literal["day", "week"]
    opens_at: list[datetime] = Field(description="when each chapter opens, in card order")
    open_now: int = Field(description="how many chapters are open now")


class PlaylistCardIn(In):
    opens: OpensIn | None = Field(default=None, description="make a day-by-day card (kept on the playlist)")


class PlaylistPut(In):
    name: CardTitle | None = None
    audio_ids: list[AudioId] | None = Field(default=None, max_length=ITEMS_CEILING)
    play_mode: PlayModeIn | None = None
    storage: Storage | None = Field(
        default=None, description=STORAGE_HELP + " A change rewrites the same card in place; omitted: kept"
    )
    opens: OpensIn | None = Field(
        default=None, description="a day-by-day schedule for its card; null opens every chapter; omitted: kept"
    )
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
    storage: Storage
    version: int
    card_id: str | None
    yoto_card_id: str | None
    card_sync: CardSyncOut
    opens: OpensOut | None = Field(description="a day-by-day card's schedule; null: every chapter is open")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: PlaylistView) -> PlaylistOut:
        p = view.playlist
        s = view.schedule
        opens = None
        if s is not None:
            opens = OpensOut(
                from_=s.opens.first.isoformat(), every=s.opens.every, opens_at=list(s.opens_at), open_now=s.open_now
            )  # type: ignore[arg-type]
        return cls(
            id=p.id,
            owner=name_of(p.owner),
            name=p.name,
            audio_ids=list(p.audio_ids),
            play_mode=p.play_mode,  # type: ignore[arg-type]
            storage=p.storage,  # type: ignore[arg-type]
            version=p.version,
            card_id=p.card_id,
            yoto_card_id=view.yoto_card_id,
            card_sync=CardSyncOut.of(view.sync),
            opens=opens,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PlaylistPage(BaseModel):
    items: list[PlaylistOut]
    next_cursor: str | None = None
