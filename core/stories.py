"""Branching stories: scenes, what each scene's buttons lead to, and what is wrong with a story.

A scene ends in one of three ways: `left`/`right` (the player's buttons) lead to
other scenes, `next` goes on when the scene's audio ends, or it is an ending
(`ending`, or no way on at all); an ending may still offer buttons (to play
again). `problems` is what an editor shows before
saving; the `error` ones block a save (docs/cards.md, "Stories").
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from core.errors import Invalid

SCENE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
TITLE_MAX = 100
EXITS = ("left", "right", "next")

# The kinds of problem, and whether each blocks a save.
ERROR_KINDS = frozenset({"bad_id", "duplicate_scene", "missing_scene", "bad_start", "ending_goes_on"})
WARNING_KINDS = frozenset({"unreachable", "no_ending", "no_audio", "no_way_on"})


@dataclass(frozen=True)
class Scene:
    id: str
    title: str
    audio_id: str | None = None
    left: str | None = None
    right: str | None = None
    next: str | None = None
    ending: bool = False

    def exits(self) -> list[str]:
        """The scenes this one leads to, left, right then next (each once)."""
        return list(dict.fromkeys(x for x in (self.left, self.right, self.next) if x))

    @property
    def is_ending(self) -> bool:
        return self.ending or not self.exits()


@dataclass(frozen=True)
class Problem:
    scene: str | None  # None: the story as a whole
    kind: str
    message: str

    @property
    def level(self) -> Literal["error", "warning"]:
        return "error" if self.kind in ERROR_KINDS else "warning"


def scene_of(raw: Mapping[str, Any]) -> Scene:
    """A scene from its stored (or posted) dict; absent fields take their defaults."""

    def ref(name: str) -> str | None:
        value = raw.get(name)
        return str(value) if value else None

    return Scene(
        id=str(raw.get("id") or ""),
        title=str(raw.get("title") or ""),
        audio_id=ref("audio_id"),
        left=ref("left"),
        right=ref("right"),
        next=ref("next"),
        ending=bool(raw.get("ending", False)),
    )


def scenes_of(raws: Iterable[Mapping[str, Any]]) -> list[Scene]:
    return [scene_of(r) for r in raws]


def as_dicts(scenes: Sequence[Scene]) -> list[dict[str, Any]]:
    return [asdict(s) for s in scenes]


def _reach(start: str, step: Mapping[str, Iterable[str]]) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        for n in step.get(todo.popleft(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def problems(start: str, scenes: Sequence[Scene]) -> list[Problem]:
    """Everything an editor should show, errors first, in scene order within each kind."""
    found: list[Problem] = []
    ids: set[str] = set()
    for s in scenes:
        if not SCENE_ID.fullmatch(s.id):
            found.append(Problem(s.id or None, "bad_id", f"scene id {s.id!r} must be 1-64 letters, digits, . _ or -"))
        elif s.id in ids:
            found.append(Problem(s.id, "duplicate_scene", f"two scenes are called {s.id!r}"))
        ids.add(s.id)
    for s in scenes:
        for way in EXITS:
            target = getattr(s, way)
            if target and target not in ids:
                found.append(Problem(s.id, "missing_scene", f"scene {s.id!r}: {way} leads to {target!r}, no scene"))
        if s.ending and s.next:
            found.append(
                Problem(s.id, "ending_goes_on", f"scene {s.id!r} is an ending but goes on to {s.next!r}: choose one")
            )
    if start not in ids:
        found.append(Problem(None, "bad_start", f"the story starts at {start!r}, which is no scene"))
        return found + [Problem(s.id, "no_audio", _silent(s)) for s in scenes if not s.audio_id]
    graph = {s.id: [x for x in s.exits() if x in ids] for s in scenes}
    reached = _reach(start, graph)
    back: dict[str, list[str]] = {}
    for source, targets in graph.items():
        for t in targets:
            back.setdefault(t, []).append(source)
    endings = {s.id for s in scenes if s.is_ending}
    finishing: set[str] = set()
    for e in endings:
        finishing |= _reach(e, back)
    warned: set[str] = set()
    for s in scenes:
        if s.id in warned:
            continue
        warned.add(s.id)
        if s.id not in reached:
            found.append(Problem(s.id, "unreachable", f"no path from the start reaches scene {s.id!r}"))
        elif s.id not in finishing:
            found.append(
                Problem(s.id, "no_ending", f"from scene {s.id!r} no path leads to an ending (a loop with no way out)")
            )
        if not s.ending and not s.exits():
            found.append(
                Problem(s.id, "no_way_on", f"scene {s.id!r} leads nowhere: it plays as an ending; mark it one")
            )
        if not s.audio_id:
            found.append(Problem(s.id, "no_audio", _silent(s)))
    return sorted(found, key=lambda p: p.level != "error")


def _silent(s: Scene) -> str:
    return f"scene {s.id!r} has no audio yet: give it some before making the card"


def checked(title: str, start: str, scenes: Sequence[Scene], *, max_scenes: int) -> list[Problem]:
    """The problems of a story that may be saved (its warnings); `Invalid` naming each error otherwise."""
    title = title.strip()
    if not title or len(title) > TITLE_MAX:
        raise Invalid(f"title must be 1 to {TITLE_MAX} characters")
    if not 1 <= len(scenes) <= max_scenes:
        raise Invalid(f"a story has 1 to {max_scenes} scenes (one chapter each on its card), not {len(scenes)}")
    for s in scenes:
        if not s.title.strip() or len(s.title) > TITLE_MAX:
            raise Invalid(f"scene {s.id!r}: title must be 1 to {TITLE_MAX} characters")
    found = problems(start, scenes)
    errors = [p for p in found if p.level == "error"]
    if errors:
        raise Invalid("; ".join(p.message for p in errors), problems=[problem_dict(p) for p in found])
    return found


def problem_dict(p: Problem) -> dict[str, Any]:
    return {"scene": p.scene, "kind": p.kind, "level": p.level, "message": p.message}


def card_order(start: str, scenes: Sequence[Scene]) -> list[Scene]:
    """The scenes as the card's chapters: the start first (a card begins at its first chapter), then the rest."""
    return [s for s in scenes if s.id == start] + [s for s in scenes if s.id != start]
