"""A branching story as Yoto's interactive card: pure, no I/O.

One chapter per scene (the start first), one track in each, keys zero-padded
("01", and the track's key its chapter's); each track's `events` send the left
and right buttons and the track's end to another chapter (`goto`), or stop.
The card-level fields are those Yoto's own converter writes (docs/yoto.md,
"Interactive cards").
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from core.stories import Scene, card_order
from core.yoto.cloud import YotoCard, YotoChapter, YotoTrack, pad_key

PLAYBACK_TYPE = "interactive"
RESUME_TIMEOUT_S = 2_592_000  # 30 days, the converter's default
# Set in `content.config` beside the documented keys: the buttons belong to the story, not to skipping.
NAV_OFF = {"disableTrackNav": True, "disableChapterNav": True}
EDIT_SETTINGS = {"autoOverlayLabels": "chapters", "editKeys": False, "interactiveContent": True}
BUTTON_EVENTS = (("left", "onLhb"), ("right", "onRhb"), ("next", "onEnd"))


def keys_of(start: str, scenes: Sequence[Scene]) -> dict[str, str]:
    """Each scene's chapter key (and its track's), in card order."""
    return {s.id: pad_key(i) for i, s in enumerate(card_order(start, scenes), start=1)}


def events(scene: Scene, keys: Mapping[str, str]) -> dict[str, Any]:
    """The track events of a scene: a `goto` per button and for its end, else `stop` at its end."""
    out: dict[str, Any] = {}
    for way, name in BUTTON_EVENTS:
        target = getattr(scene, way)
        if target:
            key = keys[target]
            out[name] = {"cmd": "goto", "params": {"chapterKey": key, "trackKey": key}}
    out.setdefault("onEnd", {"cmd": "stop"})
    return out


def _old_chapters(old: YotoCard | None) -> dict[str, YotoChapter]:
    """The chapters of the card as Yoto held it, by the audio their track plays."""
    found: dict[str, YotoChapter] = {}
    for chapter in old.chapters if old else ():
        for track in chapter.tracks[:1]:
            if track.track_url:
                found.setdefault(track.track_url, chapter)
    return found


def compile_card(
    title: str,
    start: str,
    scenes: Sequence[Scene],
    tracks: Mapping[str, YotoTrack],
    *,
    icons: Mapping[str, str | None] | None = None,
    old: YotoCard | None = None,
    resume_timeout_s: int = RESUME_TIMEOUT_S,
) -> YotoCard:
    """The interactive card of a story. `tracks` holds each scene's track (by scene id:
    its Yoto-stored audio, `yoto:#…`); `icons` a media id per scene; `old` is the card as
    Yoto holds it for a rewrite in place (its id, metadata, cover and each chapter's own
    fields where it played the same audio are kept)."""
    keys = keys_of(start, scenes)
    kept = _old_chapters(old)
    chapters: list[YotoChapter] = []
    for scene in card_order(start, scenes):
        key = keys[scene.id]
        icon = (icons or {}).get(scene.id)
        track = tracks[scene.id]
        before = kept.get(track.track_url or "")
        raw_track = {**(before.tracks[0].raw if before else {}), **track.raw, "events": events(scene, keys)}
        laid = replace(track, title=scene.title, key=key, icon=icon or track.icon, raw=raw_track)
        chapter_raw = {k: v for k, v in (before.raw if before else {}).items() if k not in ("tracks", "key")}
        chapters.append(
            YotoChapter(
                title=scene.title,
                tracks=(laid,),
                icon=icon,
                key=key,
                overlay_label=str(int(key)),
                duration=track.duration,
                raw=chapter_raw,
            )
        )
    raw = copy.deepcopy(dict(old.raw)) if old else {}
    content = raw.get("content")
    content = raw["content"] = dict(content) if isinstance(content, dict) else {}
    config = content.get("config")
    content["config"] = {**(config if isinstance(config, dict) else {}), **NAV_OFF}
    edit = content.get("editSettings")
    content["editSettings"] = {**(edit if isinstance(edit, dict) else {}), **EDIT_SETTINGS}
    return YotoCard(
        title=title,
        chapters=tuple(chapters),
        card_id=old.card_id if old else None,
        description=old.description if old else None,
        author=old.author if old else None,
        playback_type=PLAYBACK_TYPE,
        content_config={"resumeTimeout": resume_timeout_s, "autoadvance": "none"},
        raw=raw,
    )
