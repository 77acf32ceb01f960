"""A podcast feed (RSS 2.0 or Atom) as the episodes a card can hold.

feedparser does the parsing (it is lenient with the feeds found in the wild
and reads both formats into one shape); this module picks what we need: each
entry with an audio enclosure, its stable id (the guid, else the enclosure
URL), title and publication time, newest first.
"""

from __future__ import annotations

import calendar
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

from core.errors import Invalid

AUDIO_TYPES = ("audio/", "application/ogg", "video/mp4", "application/octet-stream")
AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".mp4", ".ogg", ".oga", ".opus", ".wav", ".flac")
TITLE_MAX = 100


@dataclass(frozen=True)
class Episode:
    guid: str
    title: str
    audio_url: str
    published: datetime | None
    position: int  # order in the document, a tie-break when dates are missing or equal


@dataclass(frozen=True)
class Feed:
    title: str
    episodes: list[Episode]  # newest first


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


def parse_feed(body: bytes, base_url: str) -> Feed:
    """`Invalid` for a document that is not a feed, or a feed without one audio episode."""
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": base_url})
    if parsed.get("bozo") and not parsed.entries:
        raise Invalid("this is not an RSS or Atom feed we can read")
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        raise Invalid("this is not an RSS or Atom feed we can read")
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
