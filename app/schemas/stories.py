"""Bodies of `/api/stories*`: branching stories, their problems and their card."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.cards import ITEMS_CEILING, AudioId, CardTitle
from app.schemas.common import In
from app.schemas.playlists import Version
from app.schemas.scheduled import RunOut
from core.stories import Problem, Scene
from core.usernames import name_of
from services.stories import StoryView

SceneId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class SceneIn(In):
    id: SceneId
    title: CardTitle
    audio_id: AudioId | None = Field(default=None, description="the scene's audio; needed before the card is made")
    left: SceneId | None = Field(default=None, description="the scene the left button leads to")
    right: SceneId | None = Field(default=None, description="the scene the right button leads to")
    next: SceneId | None = Field(default=None, description="the scene that follows when this one ends")
    ending: bool = Field(default=False, description="the story ends here (buttons may still lead on, e.g. 'again')")

    def scene(self) -> Scene:
        return Scene(self.id, self.title, self.audio_id, self.left, self.right, self.next, self.ending)


class StoryIn(In):
    title: CardTitle
    start: SceneId
    scenes: list[SceneIn] = Field(min_length=1, max_length=ITEMS_CEILING)
    version: Version | None = Field(default=None, description="PUT: the version you last read; 409 if it moved on")


class ProblemOut(BaseModel):
    scene: str | None
    kind: str
    level: Literal["error", "warning"]
    message: str

    @classmethod
    def of(cls, p: Problem) -> ProblemOut:
        return cls(scene=p.scene, kind=p.kind, level=p.level, message=p.message)


class SceneOut(BaseModel):
    id: str
    title: str
    audio_id: str | None
    left: str | None
    right: str | None
    next: str | None
    ending: bool

    @classmethod
    def of(cls, raw: dict[str, Any]) -> SceneOut:
        return cls(
            id=str(raw.get("id", "")),
            title=str(raw.get("title", "")),
            audio_id=raw.get("audio_id"),
            left=raw.get("left"),
            right=raw.get("right"),
            next=raw.get("next"),
            ending=bool(raw.get("ending", False)),
        )


class StoryOut(BaseModel):
    id: str
    owner: str
    title: str
    start: str
    scenes: list[SceneOut]
    problems: list[ProblemOut] = Field(description="what an editor shows: warnings (errors are never saved)")
    version: int
    card_id: str | None
    yoto_card_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: StoryView) -> StoryOut:
        s = view.story
        return cls(
            id=s.id,
            owner=name_of(s.owner),
            title=s.title,
            start=s.start,
            scenes=[SceneOut.of(raw) for raw in s.scenes],
            problems=[ProblemOut.of(p) for p in view.problems],
            version=s.version,
            card_id=s.card_id,
            yoto_card_id=view.yoto_card_id,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class StoryPage(BaseModel):
    items: list[StoryOut]
    next_cursor: str | None = None


class StoryCardQueuedOut(BaseModel):
    """The card write waits for its uploads to Yoto's storage: follow the run (`GET /api/runs/{id}`);
    its `subject_id` is the card it writes. The story answers `yoto_card_id` once it ends ok."""

    run: RunOut
