"""Twee 3 (Twine's text format) into a branching story: pure, no I/O.

Passages (`:: Name [tags] {metadata}`) become scenes; a passage's first link is
the left button, the second the right, a third plays when the scene ends, and a
passage with no link is an ending, as Yoto's own converter maps them. A passage
names its audio with an `audio:<item id>` tag or `{"audio": "<item id>"}`
metadata; otherwise its words are what text-to-speech will say (docs/cards.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from core.errors import Invalid
from core.stories import TITLE_MAX, Scene

SPECIAL = frozenset({"StoryTitle", "StoryData", "StoryInit", "StoryMenu", "StoryCaption", "StoryBanner"})
SPECIAL_TAGS = frozenset({"script", "stylesheet", "Twine.private"})
MAX_LINKS = 3
BUTTONS = ("left", "right")

_HEADER = re.compile(r"^::(?P<name>(?:\\.|[^\\\[{])*?)\s*(?:\[(?P<tags>(?:\\.|[^\\\]])*)\])?\s*(?P<meta>\{.*\})?\s*$")
_LINK = re.compile(r"\[\[(.*?)\]\](?:\[[^\]]*\])?", re.S)
_UNESCAPE = re.compile(r"\\(.)")
# Harlowe (set: ...), SugarCube <<...>> and HTML comments are not read aloud.
_MACRO = re.compile(r"\([a-z][\w-]*:[^()]*\)|<<[^>]*>>|<!--.*?-->", re.S)


@dataclass(frozen=True)
class Link:
    text: str
    target: str  # "" for an empty slot such as [[|]], which keeps a button free


@dataclass(frozen=True)
class Passage:
    name: str
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    text: str
    line: int


@dataclass(frozen=True)
class ImportedScene:
    scene: Scene
    speech: str  # what text-to-speech says when the passage names no audio ("" when it does)


@dataclass(frozen=True)
class Imported:
    title: str
    start: str
    scenes: list[ImportedScene] = field(default_factory=list)


def passages(text: str) -> list[Passage]:
    """Every passage in file order; `Invalid` for a header that cannot be read."""
    found: list[Passage] = []
    current: tuple[str, tuple[str, ...], dict[str, Any], int] | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None:
            name, tags, meta, line = current
            found.append(Passage(name, tags, meta, "\n".join(body).strip(), line))

    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if not line.startswith("::"):
            body.append(line)
            continue
        close()
        body = []
        m = _HEADER.match(line.rstrip())
        if m is None:
            raise Invalid(f"line {number}: cannot read the passage header {line.strip()[:80]!r}")
        name = _UNESCAPE.sub(r"\1", m.group("name").strip())
        if not name:
            raise Invalid(f"line {number}: a passage has no name")
        tags = tuple(_UNESCAPE.sub(r"\1", t) for t in (m.group("tags") or "").split())
        current = (name, tags, _json_object(m.group("meta") or ""), number)
    close()
    return found


def _json_object(text: str) -> dict[str, Any]:
    """A metadata block or StoryData; one that does not decode is discarded, as the spec recommends."""
    try:
        loaded = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def links(text: str) -> list[Link]:
    """The links of a passage in order: [[T]], [[Text->T]], [[T<-Text]], [[Text|T]]."""
    out: list[Link] = []
    for m in _LINK.finditer(text):
        inner = m.group(1)
        if "|" in inner:
            label, target = inner.rsplit("|", 1)
        elif "->" in inner:
            label, target = inner.rsplit("->", 1)
        elif "<-" in inner:
            target, label = inner.split("<-", 1)
        else:
            label = target = inner
        out.append(Link(label.strip(), target.strip()))
    return out


def spoken(text: str, choices: list[tuple[str, Link]]) -> str:
    """The passage's words without link markup or macros, and each button choice said aloud."""
    prose = _MACRO.sub("", _LINK.sub("", text))
    lines = [" ".join(line.split()) for line in prose.splitlines()]
    said = [" ".join(line for line in lines if line)]
    for button, link in choices:
        if link.text and link.target:
            said.append(f"{link.text.rstrip('.')}: press the {button} button.")
    return " ".join(p for p in said if p).strip()


def _scene_ids(names: list[str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:60] or "scene"
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate)
        ids[name] = candidate
    return ids


def _audio_of(p: Passage) -> str | None:
    value = p.metadata.get("audio")
    if isinstance(value, str) and value:
        return value
    return next((t.split(":", 1)[1] for t in p.tags if t.startswith("audio:") and len(t) > 6), None)


def parse(text: str) -> Imported:
    """The story a Twee 3 file tells; `Invalid` naming the passage for a link to no passage,
    more links than a card has buttons, or a passage name used twice."""
    every = passages(text)
    title = next((p.text.splitlines()[0].strip() for p in every if p.name == "StoryTitle" and p.text), "")
    data = next((_json_object(p.text) for p in every if p.name == "StoryData"), {})
    story = [p for p in every if p.name not in SPECIAL and not SPECIAL_TAGS & set(p.tags)]
    if not story:
        raise Invalid("the file has no story passages (each starts with a line ':: Name')")
    names = [p.name for p in story]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise Invalid(f"two passages are called {twice!r}")
    ids = _scene_ids(names)
    start_name = data.get("start") or data.get("startnode") or ("Start" if "Start" in ids else names[0])
    if start_name not in ids:
        raise Invalid(f"StoryData starts at {start_name!r}, which is no passage")
    scenes: list[ImportedScene] = []
    for p in story:
        found = links(p.text)
        if len(found) > MAX_LINKS:
            raise Invalid(f"passage {p.name!r} has {len(found)} links; a card has {MAX_LINKS}: left, right and the end")
        for link in found:
            if link.target and link.target not in ids:
                raise Invalid(f"passage {p.name!r} links to {link.target!r}, which is no passage")
        slots = [ids[link.target] if link.target else None for link in found] + [None] * MAX_LINKS
        left, right, after = slots[:MAX_LINKS]
        audio = _audio_of(p)
        scene = Scene(
            id=ids[p.name],
            title=p.name[:TITLE_MAX],
            audio_id=audio,
            left=left,
            right=right,
            next=after,
            ending=not any((left, right, after)),
        )
        speech = "" if audio else (spoken(p.text, list(zip(BUTTONS, found, strict=False))) or p.name)
        scenes.append(ImportedScene(scene, speech))
    return Imported((title or "Untitled story")[:TITLE_MAX], ids[start_name], scenes)
