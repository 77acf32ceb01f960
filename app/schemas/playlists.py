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


class PlaylistPut(In):
    name: CardTitle | None = None
    audio_ids: list[AudioId] | None = Field(default=None, max_length=ITEMS_CEILING)
    play_mode: PlayModeIn | None = None
    storage: Storage | None = Field(
        default=None, description=STORAGE_HELP + " A change rewrites the same card in place; omitted: kept"
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
            storage=p.storage,  # type: ignore[arg-type]
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
