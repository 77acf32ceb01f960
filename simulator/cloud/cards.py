"""MYO cards: the checks firmware and Yoto's API would make, and the card store.

Validation is deliberately stricter than what is known of the real API
(unknown media ids in `icon16x16` are refused while `strict_icons` is on;
`editSettings` only inside `content`, and `transcodeAudioUploads` there on a
card with stream tracks; `content.config` holds the documented keys only; an
audio track names a transcode of the account's and declares it truly):
a card this accepts is one a player can show and play. Interactive cards:
each track event is `goto` a chapter and track the card holds, or `stop`.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from simulator.cloud.clock import instant, iso
from simulator.cloud.config import CloudConfig
from simulator.cloud.http import HttpError

CARD_ID = re.compile(r"[A-Za-z0-9]{5}")
ICON_REF = re.compile(r"yoto:#([A-Za-z0-9_-]+)")
TRACK_FORMATS = ("mp3", "aac", "opus", "ogg")
TRACK_TYPES = ("stream", "audio")
# What an audio track may declare as `channels` (yoto-up's model also allows 1 and 2), as the transcode names it.
CHANNELS = {"mono": "mono", "stereo": "stereo", 1: "mono", 2: "stereo"}
DURATION_SLACK_S = 1.0
PLAYBACK_TYPES = ("linear", "interactive")
EVENT_NAMES = ("onLhb", "onRhb", "onEnd")  # left button, right button, the track's end (twee2yoto)
EVENT_COMMANDS = ("goto", "stop")
GOTO_PARAMS = ("chapterKey", "trackKey")
# yoto.dev's card content schema and the Node client's YotoContentConfig; the two nav flags from twee2yoto.
DOCUMENTED = ("autoadvance", "resumeTimeout", "systemActivity", "trackNumberOverlayTimeout", "onlineOnly", "shuffle")
CONFIG_KEYS = (*DOCUMENTED, "disableTrackNav", "disableChapterNav")


def is_padded_key(key: object) -> bool:
    """ "01".."99", then "100"...: two digits at least, no extra leading zero."""
    return isinstance(key, str) and re.fullmatch(r"\d{2,}", key) is not None and (len(key) == 2 or key[0] != "0")


class _Checker:
    def __init__(
        self, cfg: CloudConfig, known_icon: Callable[[str], bool], transcoded: Callable[[str], dict[str, Any] | None]
    ) -> None:
        self.cfg = cfg
        self.known_icon = known_icon
        self.transcoded = transcoded

    @staticmethod
    def fail(where: str, problem: str) -> HttpError:
        return HttpError(400, f"{where} {problem}")

    def obj(self, value: object, where: str, required: bool = False) -> dict[str, Any] | None:
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            raise self.fail(where, "must be an object")
        return value

    def text(self, value: object, where: str, max_len: int | None = None) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise self.fail(where, "must be a string")
        if max_len is not None and len(value) > max_len:
            raise self.fail(where, f"must be at most {max_len} characters")

    def boolean(self, value: object, where: str) -> None:
        if value is not None and not isinstance(value, bool):
            raise self.fail(where, "must be true or false")

    def number(self, value: object, where: str, integer: bool = False) -> None:
        if value is None:
            return
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            raise self.fail(where, f"must be a non-negative {'integer' if integer else 'number'}")

    def icon(self, display: object, where: str) -> None:
        block = self.obj(display, where)
        if block is None or block.get("icon16x16") is None:
            return
        ref = block["icon16x16"]
        match = ICON_REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            raise self.fail(f"{where}.icon16x16", f'must look like "yoto:#<mediaId>" (got {ref!r})')
        if self.cfg.strict_icons and not self.known_icon(match.group(1)):
            raise self.fail(f"{where}.icon16x16", f"names an unknown icon {match.group(1)!r}")

    def keys(self, items: list[Any], where: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            key = item.get("key")
            if not is_padded_key(key):
                raise self.fail(f"{where}[{i}].key", f'must be a zero-padded string such as "01" (got {key!r})')
            if key in seen:
                raise self.fail(f"{where}[{i}].key", f"repeats {key!r}")
            seen.add(key)

    def track(self, track: object, where: str) -> None:
        t = self.obj(track, where, required=True)
        assert t is not None
        self.text(t.get("title"), f"{where}.title")
        kind = t.get("type")
        if kind not in TRACK_TYPES:
            raise self.fail(f"{where}.type", f"must be one of {', '.join(TRACK_TYPES)} (got {kind!r})")
        url = t.get("trackUrl")
        if not isinstance(url, str) or not url:
            raise self.fail(f"{where}.trackUrl", "is required")
        if kind == "stream":
            parts = urlsplit(url)
            schemes = ("https",) if self.cfg.require_https_tracks else ("http", "https")
            if parts.scheme not in schemes or not parts.netloc:
                raise self.fail(f"{where}.trackUrl", f"must be an absolute {' or '.join(schemes)} URL (got {url!r})")
            if t.get("format") not in TRACK_FORMATS:
                got = t.get("format")
                raise self.fail(f"{where}.format", f"must be one of {', '.join(TRACK_FORMATS)} (got {got!r})")
        else:
            if not url.startswith("yoto:#"):
                raise self.fail(f"{where}.trackUrl", 'of an audio track must be "yoto:#<sha256>"')
            if t.get("format") is not None and t.get("format") not in TRACK_FORMATS:
                raise self.fail(f"{where}.format", f"must be one of {', '.join(TRACK_FORMATS)}")
        self.boolean(t.get("isNew"), f"{where}.isNew")
        self.number(t.get("duration"), f"{where}.duration")
        self.number(t.get("fileSize"), f"{where}.fileSize", integer=True)
        self.text(t.get("overlayLabel"), f"{where}.overlayLabel")
        self.icon(t.get("display"), f"{where}.display")
        self.events(t.get("events"), f"{where}.events")
        if kind == "audio":
            self.uploaded(t, where)

    def events(self, value: object, where: str) -> None:
        """`{"cmd": "goto", "params": {"chapterKey", "trackKey"}}` or `{"cmd": "stop"}` per event
        (the targets are checked once the whole card is read: `gotos`)."""
        for name, event in (self.obj(value, where) or {}).items():
            if name not in EVENT_NAMES:
                raise self.fail(where, f"has an unknown event {name!r} (known: {', '.join(EVENT_NAMES)})")
            e = self.obj(event, f"{where}.{name}", required=True) or {}
            cmd = e.get("cmd")
            if cmd not in EVENT_COMMANDS:
                raise self.fail(f"{where}.{name}.cmd", f"must be one of {', '.join(EVENT_COMMANDS)} (got {cmd!r})")
            extra = sorted(set(e) - {"cmd", "params"})
            if extra:
                raise self.fail(f"{where}.{name}", f"has unknown fields {extra} (an event is cmd and params)")
            if cmd == "stop":
                if "params" in e:
                    raise self.fail(f"{where}.{name}.params", "is not taken by stop")
                continue
            params = self.obj(e.get("params"), f"{where}.{name}.params", required=True) or {}
            for key in GOTO_PARAMS:
                if not isinstance(params.get(key), str):
                    raise self.fail(f"{where}.{name}.params.{key}", "is required: the key goto plays")
            extra = sorted(set(params) - set(GOTO_PARAMS))
            if extra:
                raise self.fail(f"{where}.{name}.params", f"has unknown fields {extra} (goto takes {GOTO_PARAMS})")

    def gotos(self, chapters: list[dict[str, Any]]) -> None:
        """Every `goto` names a chapter of the card and a track of that chapter."""
        tracks = {c["key"]: {t["key"] for t in c["tracks"]} for c in chapters}
        for ci, chapter in enumerate(chapters):
            for ti, track in enumerate(chapter["tracks"]):
                for name, event in (track.get("events") or {}).items():
                    if event["cmd"] != "goto":
                        continue
                    where = f"content.chapters[{ci}].tracks[{ti}].events.{name}.params"
                    chapter_key, track_key = event["params"]["chapterKey"], event["params"]["trackKey"]
                    if chapter_key not in tracks:
                        raise self.fail(f"{where}.chapterKey", f"names {chapter_key!r}, a chapter the card lacks")
                    if track_key not in tracks[chapter_key]:
                        missing = f"names {track_key!r}, a track chapter {chapter_key} lacks"
                        raise self.fail(f"{where}.trackKey", missing)

    def uploaded(self, t: dict[str, Any], where: str) -> None:
        """An audio track names a transcode of this account's, and declares what that transcode is."""
        url = t["trackUrl"]
        info = self.transcoded(url.removeprefix("yoto:#"))
        if info is None:
            raise self.fail(f"{where}.trackUrl", f"names {url!r}, which no transcode of this account produced")
        channels = t.get("channels")
        if channels is not None and (
            isinstance(channels, bool) or not isinstance(channels, str | int) or channels not in CHANNELS
        ):
            raise self.fail(f"{where}.channels", f'must be "mono" or "stereo" (got {channels!r})')
        wrong = []
        if t.get("format") is not None and t["format"] != info["format"]:
            wrong.append(f"format is {t['format']!r}, the transcode's is {info['format']!r}")
        if t.get("duration") is not None and abs(t["duration"] - info["duration"]) > DURATION_SLACK_S:
            wrong.append(f"duration is {t['duration']} s, the transcode's is {info['duration']} s")
        if t.get("fileSize") is not None and t["fileSize"] != info["fileSize"]:
            wrong.append(f"fileSize is {t['fileSize']}, the transcode's is {info['fileSize']}")
        if channels is not None and CHANNELS[channels] != info["channels"]:
            wrong.append(f"channels is {channels!r}, the transcode's is {info['channels']!r}")
        if wrong:
            raise self.fail(
                where, f"does not match its transcode ({'; '.join(wrong)}): a player would download it for ever"
            )

    def chapter(self, chapter: object, where: str) -> None:
        c = self.obj(chapter, where, required=True)
        assert c is not None
        self.text(c.get("title"), f"{where}.title")
        self.text(c.get("overlayLabel"), f"{where}.overlayLabel")
        self.icon(c.get("display"), f"{where}.display")
        self.boolean(c.get("hasStreams"), f"{where}.hasStreams")
        if c.get("availableFrom") is not None:
            try:
                instant(c["availableFrom"])
            except ValueError as exc:
                raise self.fail(f"{where}.availableFrom", str(exc)) from None
        tracks = c.get("tracks")
        if not isinstance(tracks, list) or not tracks:
            raise self.fail(f"{where}.tracks", "must be a non-empty list")
        limit = self.cfg.max_tracks_per_chapter
        if limit is not None and len(tracks) > limit:
            raise self.fail(f"{where}.tracks", f"has {len(tracks)} tracks; at most {limit} allowed")
        for i, track in enumerate(tracks):
            self.track(track, f"{where}.tracks[{i}]")
        self.keys(tracks, f"{where}.tracks")

    def card(self, body: dict[str, Any]) -> None:
        card_id = body.get("cardId")
        if card_id is not None and (not isinstance(card_id, str) or not CARD_ID.fullmatch(card_id)):
            raise self.fail("cardId", "must be 5 letters or digits")
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise self.fail("title", "is required")
        self.text(title, "title", self.cfg.max_title_chars)
        content = self.obj(body.get("content"), "content", required=True)
        assert content is not None
        playback = content.get("playbackType")
        if playback is not None and playback not in PLAYBACK_TYPES:
            raise self.fail("content.playbackType", f"must be one of {', '.join(PLAYBACK_TYPES)}")
        self.config(self.obj(content.get("config"), "content.config"))
        chapters = content.get("chapters")
        if not isinstance(chapters, list):
            raise self.fail("content.chapters", "must be a list")
        limit = self.cfg.max_chapters
        if limit is not None and len(chapters) > limit:
            raise self.fail("content.chapters", f"has {len(chapters)} chapters; at most {limit} allowed")
        for i, chapter in enumerate(chapters):
            self.chapter(chapter, f"content.chapters[{i}]")
        self.keys(chapters, "content.chapters")
        self.gotos(chapters)
        metadata = self.obj(body.get("metadata"), "metadata")
        if metadata is not None:
            for key in ("description", "author"):
                self.text(metadata.get(key), f"metadata.{key}")
            cover = self.obj(metadata.get("cover"), "metadata.cover")
            if cover is not None:
                self.text(cover.get("imageL"), "metadata.cover.imageL")
            self.obj(metadata.get("media"), "metadata.media")
        if "editSettings" in body:
            raise self.fail("editSettings", "belongs inside content (content.editSettings), not at the top level")
        self.edit_settings(self.obj(content.get("editSettings"), "content.editSettings"), chapters)

    def config(self, config: dict[str, Any] | None) -> None:
        if config is None:
            return
        for key in config:
            if key not in CONFIG_KEYS:
                raise self.fail(f"content.config.{key}", f"is not a card setting (allowed: {', '.join(CONFIG_KEYS)})")
        for key in ("resumeTimeout", "trackNumberOverlayTimeout"):
            self.number(config.get(key), f"content.config.{key}", integer=True)
        for key in ("systemActivity", "onlineOnly", "disableTrackNav", "disableChapterNav"):
            self.boolean(config.get(key), f"content.config.{key}")
        self.text(config.get("autoadvance"), "content.config.autoadvance")
        shuffle = config.get("shuffle")
        if shuffle is not None:
            if not isinstance(shuffle, list):
                raise self.fail("content.config.shuffle", "must be a list of {start, end, limit}")
            for i, entry in enumerate(shuffle):
                block = self.obj(entry, f"content.config.shuffle[{i}]", required=True) or {}
                for key in ("start", "end", "limit"):
                    self.number(block.get(key), f"content.config.shuffle[{i}].{key}", integer=True)

    def edit_settings(self, settings: dict[str, Any] | None, chapters: list[Any]) -> None:
        for key in ("transcodeAudioUploads", "editKeys", "interactiveContent"):
            self.boolean((settings or {}).get(key), f"content.editSettings.{key}")
        self.text((settings or {}).get("autoOverlayLabels"), "content.editSettings.autoOverlayLabels")
        streams = any(t.get("type") == "stream" for c in chapters for t in c["tracks"])
        if streams and (settings or {}).get("transcodeAudioUploads") is not True:
            raise self.fail(
                "content.editSettings.transcodeAudioUploads",
                "must be true on a card with stream tracks (yoto.dev: necessary for streaming cards)",
            )


def validate_card(
    body: dict[str, Any],
    cfg: CloudConfig,
    known_icon: Callable[[str], bool],
    transcoded: Callable[[str], dict[str, Any] | None],
) -> None:
    """Raise HttpError(400, reason) for a card firmware or the API would refuse.

    `transcoded(sha256)` is the writing account's transcodedInfo for a `yoto:#` audio reference, None if it has none."""
    _Checker(cfg, known_icon, transcoded).card(body)


@dataclass
class _Stored:
    card: dict[str, Any]
    account: str
    written_at: float
    previous: dict[str, Any] | None = None
    deleted: bool = False


class CardStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cards: dict[str, _Stored] = {}

    def _new_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        while True:
            card_id = "".join(secrets.choice(alphabet) for _ in range(5))
            if card_id not in self._cards:
                return card_id

    def write(self, body: dict[str, Any], account: str, now: float) -> dict[str, Any]:
        """Create, or replace the whole card when the body names a cardId (no merge, as Yoto does)."""
        with self._lock:
            card_id = body.get("cardId")
            old = self._cards.get(card_id) if card_id else None
            if card_id and old is None:
                raise HttpError(404, f"Card {card_id} not found")
            if old is not None and old.account != account:
                raise HttpError(403, "You do not own this card")
            if old is not None and old.deleted:
                raise HttpError(400, "Deleted card cannot be restored")
            card_id = card_id or self._new_id()
            card = copy.deepcopy(body)
            card.update(
                cardId=card_id,
                userId=f"auth0|{account}",
                createdAt=old.card["createdAt"] if old else iso(now),
                updatedAt=iso(now),
                deleted=False,
            )
            card.setdefault("_id", secrets.token_hex(12))
            if old is not None:
                card["_id"] = old.card["_id"]
            self._cards[card_id] = _Stored(card, account, now, previous=old.card if old else None)
            return copy.deepcopy(card)

    def read(self, card_id: str, account: str, now: float, stale_s: float = 0.0) -> dict[str, Any]:
        with self._lock:
            stored = self._cards.get(card_id)
            if stored is None or stored.deleted or stored.account != account:
                raise HttpError(404, f"Card {card_id} not found")
            if stored.previous is not None and now - stored.written_at < stale_s:
                return copy.deepcopy(stored.previous)  # eventual consistency, when asked for
            return copy.deepcopy(stored.card)

    def mine(self, account: str, show_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            found = []
            for stored in self._cards.values():
                if stored.account != account or (stored.deleted and not show_deleted):
                    continue
                card = copy.deepcopy(stored.card)
                card["content"] = {k: v for k, v in card.get("content", {}).items() if k != "chapters"}
                found.append(card)
            return found

    def delete(self, card_id: str, account: str, now: float) -> None:
        with self._lock:
            stored = self._cards.get(card_id)
            if stored is None or stored.deleted or stored.account != account:
                raise HttpError(404, f"Card {card_id} not found")
            stored.deleted = True
            stored.card["deleted"] = True
            stored.card["updatedAt"] = iso(now)

    def all(self, include_deleted: bool = False) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                card_id: copy.deepcopy(stored.card)
                for card_id, stored in self._cards.items()
                if include_deleted or not stored.deleted
            }


def with_media_urls(card: dict[str, Any], media_url: Callable[[str], str | None]) -> dict[str, Any]:
    """The card with each `yoto:#` audio track's trackUrl replaced by `media_url(sha256)` (when that is not None)."""
    for chapter in card.get("content", {}).get("chapters", []) or []:
        for track in chapter.get("tracks", []) or []:
            url = track.get("trackUrl")
            if track.get("type") == "audio" and isinstance(url, str) and url.startswith("yoto:#"):
                signed = media_url(url.removeprefix("yoto:#"))
                if signed is not None:
                    track["trackUrl"] = signed
    return card
