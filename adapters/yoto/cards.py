"""The card JSON shape: the one place a Yoto card dict is read or built.

Writing starts from a deep copy of the JSON the card was read from (`raw`) and
lays the typed fields over it, so whatever we did not model (ambient colours,
`fileSize`, interactive `events`, fields Yoto adds later) goes back unchanged.
Every write of a card with stream tracks carries the streaming fields where
yoto.dev places them (docs/yoto.md, "Cards").
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.errors import UpstreamError
from core.yoto.cloud import (
    CONTENT_CONFIG_KEYS,
    CardSummary,
    YotoCard,
    YotoChapter,
    YotoTrack,
    icon_ref,
    media_id_of,
    pad_key,
)

# What earlier versions of this service wrote where Yoto reads nothing: a rewrite removes it.
_LEGACY_CONFIG_KEYS = ("repeatAll",)

# --------------------------------------------------------------------------- writing


def _put(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set obj[path…] = value, creating (or replacing non-dict) parents; None keeps what is there."""
    if value is None:
        return
    for name in path[:-1]:
        child = obj.get(name)
        if not isinstance(child, dict):
            child = obj[name] = {}
        obj = child
    obj[path[-1]] = value


def _icon(media_id: str | None) -> str | None:
    return icon_ref(media_id) if media_id else None


def track_json(track: YotoTrack, position: int) -> dict[str, Any]:
    out = copy.deepcopy(dict(track.raw))
    out["key"] = track.key or pad_key(position)
    out["title"] = track.title
    _put(out, ("type",), track.type)
    _put(out, ("format",), track.format)
    _put(out, ("trackUrl",), track.track_url)
    _put(out, ("duration",), track.duration)
    _put(out, ("fileSize",), track.file_size)
    _put(out, ("display", "icon16x16"), _icon(track.icon))
    if out.get("type") == "stream":
        out["isNew"] = True
    return out


def chapter_json(chapter: YotoChapter, position: int) -> dict[str, Any]:
    out = copy.deepcopy(dict(chapter.raw))
    out["key"] = chapter.key or pad_key(position)
    out["title"] = chapter.title
    out["overlayLabel"] = chapter.overlay_label or str(position)
    out["tracks"] = [track_json(t, i) for i, t in enumerate(chapter.tracks, start=1)]
    _put(out, ("duration",), chapter.duration)
    _put(out, ("display", "icon16x16"), _icon(chapter.icon))
    if chapter.available_from:
        out["availableFrom"] = chapter.available_from
    else:
        out.pop("availableFrom", None)  # our cards' schedule is ours: none means always open
    if any(t.get("type") == "stream" for t in out["tracks"]):
        out["hasStreams"] = True
    elif "hasStreams" in out:
        out["hasStreams"] = False  # a chapter moved from streaming to Yoto's storage
    return out


def _config(content: dict[str, Any], changes: Mapping[str, Any]) -> None:
    unknown = sorted(set(changes) - CONTENT_CONFIG_KEYS)
    if unknown:
        raise ValueError(f"content.config holds only Yoto's documented keys, not {', '.join(unknown)}")
    config = content.get("config")
    if isinstance(config, dict):
        config = content["config"] = {k: v for k, v in config.items() if k not in _LEGACY_CONFIG_KEYS}
    for name, value in changes.items():
        _put(content, ("config", name), value)


def _edit_settings(out: dict[str, Any], content: dict[str, Any], streams: bool) -> None:
    """`editSettings` lives in `content`; one at the card's top level (our old
    writes put it there) moves in when `content` has none, and goes either way."""
    legacy = out.pop("editSettings", None)
    if not isinstance(content.get("editSettings"), dict) and isinstance(legacy, dict):
        content["editSettings"] = legacy
    if streams:
        _put(content, ("editSettings", "transcodeAudioUploads"), True)


def card_json(card: YotoCard) -> dict[str, Any]:
    """The body of `POST /content` for `card` (with `cardId` when it updates one)."""
    out = copy.deepcopy(dict(card.raw))
    out["title"] = card.title
    _put(out, ("cardId",), card.card_id)
    content = out.get("content")
    content = out["content"] = dict(content) if isinstance(content, dict) else {}
    content["chapters"] = [chapter_json(c, i) for i, c in enumerate(card.chapters, start=1)]
    content.setdefault("playbackType", "linear")
    _put(content, ("playbackType",), card.playback_type)
    _config(content, card.content_config)
    _put(out, ("metadata", "description"), card.description)
    _put(out, ("metadata", "author"), card.author)
    _put(out, ("metadata", "cover", "imageL"), card.cover_url)
    streams = any(t.get("type") == "stream" for c in content["chapters"] for t in c["tracks"])
    _edit_settings(out, content, streams)
    media = out.get("metadata", {}).get("media") if isinstance(out.get("metadata"), dict) else None
    if streams:
        _put(out, ("metadata", "media", "hasStreams"), True)
    elif isinstance(media, dict) and "hasStreams" in media:
        media["hasStreams"] = False
    return out


def track_urls(body: Mapping[str, Any]) -> list[str | None]:
    """The track URLs of a card body, in order (what a lost create is recognised by)."""
    content = _dict(body.get("content"))
    chapters = content.get("chapters")
    return [
        t.get("trackUrl")
        for c in (chapters if isinstance(chapters, list) else [])
        if isinstance(c, dict)
        for t in (c.get("tracks") if isinstance(c.get("tracks"), list) else [])
        if isinstance(t, dict)
    ]


# --------------------------------------------------------------------------- reading


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _num(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_track(raw: Mapping[str, Any]) -> YotoTrack:
    raw = dict(raw)
    return YotoTrack(
        title=str(raw.get("title") or ""),
        track_url=_str(raw.get("trackUrl")),
        type=str(raw.get("type") or "stream"),
        format=_str(raw.get("format")),
        duration=_num(raw.get("duration")),
        file_size=_int(raw.get("fileSize")),
        icon=media_id_of(_str(_dict(raw.get("display")).get("icon16x16"))),
        key=_str(raw.get("key")),
        raw=raw,
    )


def parse_chapter(raw: Mapping[str, Any]) -> YotoChapter:
    raw = dict(raw)
    tracks = raw.get("tracks")
    return YotoChapter(
        title=str(raw.get("title") or ""),
        tracks=tuple(parse_track(t) for t in tracks if isinstance(t, dict)) if isinstance(tracks, list) else (),
        icon=media_id_of(_str(_dict(raw.get("display")).get("icon16x16"))),
        key=_str(raw.get("key")),
        overlay_label=_str(raw.get("overlayLabel")),
        duration=_num(raw.get("duration")),
        available_from=_str(raw.get("availableFrom")),
        raw=raw,
    )


def unwrap_card(body: Any) -> dict[str, Any]:
    """The card object of an answer: `{"card": {…}}` or the card itself."""
    if isinstance(body, dict):
        inner = body.get("card")
        card = inner if isinstance(inner, dict) else body
        if isinstance(card.get("cardId"), str):
            return card
    raise UpstreamError("Yoto answered without a card id")


def parse_card(body: Any) -> YotoCard:
    raw = unwrap_card(body)
    content = _dict(raw.get("content"))
    metadata = _dict(raw.get("metadata"))
    chapters = content.get("chapters")
    return YotoCard(
        title=str(raw.get("title") or ""),
        chapters=tuple(parse_chapter(c) for c in chapters if isinstance(c, dict)) if isinstance(chapters, list) else (),
        card_id=raw["cardId"],
        description=_str(metadata.get("description")),
        author=_str(metadata.get("author")),
        cover_url=_str(_dict(metadata.get("cover")).get("imageL")),
        playback_type=_str(content.get("playbackType")),
        raw=raw,
    )


def parse_summary(raw: Any) -> CardSummary | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("cardId"), str):
        return None
    return CardSummary(card_id=raw["cardId"], title=str(raw.get("title") or ""), raw=raw)
