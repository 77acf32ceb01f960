"""A podcast feed (RSS 2.0 or Atom) as the episodes a card can hold.

feedparser does the parsing (it is lenient with the feeds found in the wild
and reads both formats into one shape); this module picks what we need: each
entry with an audio enclosure, its stable id (the guid, else the enclosure
URL), title and publication time, newest first. Before feedparser sees a
document, one with an internal DTD subset (entity bombs) is refused and a long
one is cut after its first MAX_ENTRIES entries (docs/security.md).
"""

from __future__ import annotations

import calendar
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import urljoin
from xml.parsers import expat

from core.errors import Invalid

AUDIO_TYPES = ("audio/", "application/ogg", "video/mp4", "application/octet-stream")
AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".mp4", ".ogg", ".oga", ".opus", ".wav", ".flac")
TITLE_MAX = 100
MAX_ENTRIES = 300  # a card holds at most 25 episodes; feeds list the newest first
NOT_A_FEED = "this is not an RSS or Atom feed we can read"

# A DOCTYPE whose declaration opens an internal subset `[`, quoted ids skipped.
_INTERNAL_SUBSET = re.compile(rb"""<!DOCTYPE(?:[^>\["']|"[^"]*"|'[^']*')*\[""", re.IGNORECASE)
_EBCDIC_XML = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC, which feedparser would decode
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Episode:
    guid: str
    title: str
    audio_url: str
    published: datetime | None
    position: int  # order in the document, a tie-break when dates are missing or equal

    def to_dict(self) -> dict[str, Any]:
        published = self.published.isoformat() if self.published else None
        return {"guid": self.guid, "title": self.title, "audio_url": self.audio_url, "published": published,
                "position": self.position}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        published = datetime.fromisoformat(data["published"]) if data.get("published") else None
        return cls(str(data["guid"]), str(data["title"]), str(data["audio_url"]), published, int(data["position"]))


@dataclass(frozen=True)
class Feed:
    """A parsed feed. Plain data: it can be handed from the request that read it
    to the run that fills the card (`to_dict`/`from_dict` across a queue)."""

    title: str
    episodes: list[Episode]  # newest first

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "episodes": [e.to_dict() for e in self.episodes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feed:
        return cls(title=str(data["title"]), episodes=[Episode.from_dict(e) for e in data["episodes"]])


def _is_audio(link: dict[str, str]) -> bool:
    kind = (link.get("type") or "").lower()
    href = (link.get("href") or "").lower().split("?", 1)[0]
    return kind.startswith(AUDIO_TYPES) or href.endswith(AUDIO_SUFFIXES)


def _audio_link(entry: dict) -> str | None:
    for link in entry.get("enclosures") or []:
        if link.get("href") and _is_audio(link):
            return str(link["href"])
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and link.get("href") and _is_audio(link):
            return str(link["href"])
    return None


def _when(entry: dict) -> datetime | None:
    with warnings.catch_warnings():  # feedparser warns when one date stands in for the other
        warnings.simplefilter("ignore", DeprecationWarning)
        for key in ("published_parsed", "updated_parsed"):
            parsed = entry.get(key)
            if parsed:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _title(text: str | None, fallback: str) -> str:
    text = " ".join((text or "").split())
    return (text or fallback)[:TITLE_MAX]


def _guard(body: bytes) -> None:
    """`Invalid` for a document that declares its own entities (or is in EBCDIC, where we cannot look)."""
    if body.lstrip()[:4] == _EBCDIC_XML:
        raise Invalid(NOT_A_FEED)
    # UTF-16 and UTF-32 put NULs between the ASCII of "<!DOCTYPE": look past them.
    probe = body.replace(b"\x00", b"") if b"\x00" in body[:4] else body
    if _INTERNAL_SUBSET.search(probe):
        raise Invalid("this feed declares its own entities (a DOCTYPE with an internal subset); feeds never need one")


class _Enough(Exception):
    def __init__(self, end_tag_at: int, open_elements: list[str]) -> None:
        self.end_tag_at = end_tag_at
        self.open_elements = open_elements


def first_entries(body: bytes, limit: int = MAX_ENTRIES) -> bytes:
    """The document cut after its `limit`-th item or entry (and closed again),
    or the document itself when it has no more."""
    if b"\x00" in body[:4]:
        return body  # UTF-16/32: left whole (the size cap bounds it)
    parser = expat.ParserCreate()
    open_elements: list[str] = []
    seen = 0

    def end(name: str) -> None:
        nonlocal seen
        open_elements.pop()
        if name.rpartition(":")[2] in ("item", "entry"):
            seen += 1
            if seen >= limit:
                raise _Enough(parser.CurrentByteIndex, list(open_elements))

    parser.StartElementHandler = lambda name, _attrs: open_elements.append(name)
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except _Enough as enough:
        if not all(name.isascii() for name in enough.open_elements):
            return body
        cut = body.index(b">", enough.end_tag_at) + 1
        return body[:cut] + b"".join(f"</{name}>".encode() for name in reversed(enough.open_elements))
    except (expat.ExpatError, ValueError):
        # Not well-formed (feedparser reads it loosely): cut after the limit-th end tag.
        ends = list(islice(_ENTRY_END.finditer(body), limit))
        if len(ends) == limit:
            return body[: ends[-1].end()]
    return body


def parse_feed(body: bytes, base_url: str) -> Feed:
    """`Invalid` for a document that is not a feed, or a feed without one audio
    episode; parse once and hand the `Feed` on (it is plain data)."""
    import feedparser

    _guard(body)
    parsed = feedparser.parse(first_entries(body), response_headers={"content-location": base_url})
    if parsed.get("bozo") and not parsed.entries:
        raise Invalid(NOT_A_FEED)
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        raise Invalid(NOT_A_FEED)
    episodes = []
    for position, entry in enumerate(parsed.entries):
        link = _audio_link(entry)
        if link is None:
            continue
        url = urljoin(base_url, link)
        guid = str(entry.get("id") or entry.get("guid") or url)
        title = _title(entry.get("title"), f"Episode {position + 1}")
        episodes.append(Episode(guid, title, url, _when(entry), position))
    if not episodes:
        raise Invalid("the feed has no episodes with audio")
    oldest = datetime.min.replace(tzinfo=UTC)
    episodes.sort(key=lambda e: (e.published or oldest, -e.position), reverse=True)
    return Feed(title=_title(parsed.feed.get("title"), "Podcast"), episodes=episodes)
