"""Choosing a 16×16 icon for a chapter from Yoto's public icon set.

`IconIndex` is the pure scorer: words of the track title (weight 2) and of the
card title (weight 1) are matched against each icon's title words (3 points a
word) and tags (2 points); singular and plural forms match each other ("foxes"
finds "fox"). The best score wins; ties go to the icon with fewer unmatched
title words, then the shorter title. When nothing matches, a default is chosen
(an icon for music, else the first icon by title).

`IconCatalog` keeps the icon list for hours per process, loaded once however
many requests ask at the same time, and keeps serving a stale list while Yoto
cannot be reached.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.yoto.cloud import Icon, YotoCloud

_STOP = "a an and the of to in on for with from at by is it its my your our his her their we you i me"
STOPWORDS = frozenset((_STOP + " part chapter track episode vol volume").split())
IRREGULAR = {
    "mice": "mouse",
    "geese": "goose",
    "teeth": "tooth",
    "feet": "foot",
    "children": "child",
    "people": "person",
    "men": "man",
    "women": "woman",
    "oxen": "ox",
    "dice": "die",
}
DEFAULT_TERMS = ("music", "note", "headphones", "song", "star")
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Lower-case words of `text`, without stopwords and bare numbers."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and not w.isdigit() and len(w) > 1]


def forms(word: str) -> frozenset[str]:
    """The word and the singulars it may be the plural of ("foxes": fox, foxe)."""
    out = {word}
    if word in IRREGULAR:
        out.add(IRREGULAR[word])
    if len(word) >= 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        out.add(word[:-1])
        if word.endswith("es"):
            out.add(word[:-2])
        if word.endswith("ies"):
            out.add(word[:-3] + "y")
        if word.endswith("ves"):
            out.update((word[:-3] + "f", word[:-3] + "fe"))
    return frozenset(out)


def _all_forms(ws: Iterable[str]) -> frozenset[str]:
    return frozenset(f for w in ws for f in forms(w))


@dataclass(frozen=True)
class _Entry:
    icon: Icon
    title_words: tuple[frozenset[str], ...]  # forms of each title word
    title_forms: frozenset[str]
    tag_forms: frozenset[str]
    prefixes: tuple[str, ...]  # title and tag words, for search-as-you-type

    @classmethod
    def of(cls, icon: Icon) -> _Entry:
        title = words(icon.title)
        tags = [w for t in icon.tags for w in words(t)]
        return cls(
            icon=icon,
            title_words=tuple(forms(w) for w in title),
            title_forms=_all_forms(title),
            tag_forms=_all_forms(tags),
            prefixes=tuple(title + tags),
        )

    def score(self, weighted: dict[str, int], *, prefix: bool = False) -> tuple[int, int]:
        """(points, unmatched title words) for query words with their weights."""
        points = 0
        matched: set[int] = set()
        for word, weight in weighted.items():
            wf = forms(word)
            hits = [i for i, f in enumerate(self.title_words) if f & wf]
            if hits:
                points += 3 * weight
                matched.update(hits)
            elif wf & self.tag_forms:
                points += 2 * weight
            elif prefix and len(word) >= 2 and any(p.startswith(word) for p in self.prefixes):
                points += weight
        return points, len(self.title_words) - len(matched)


def _weights(track_title: str, card_title: str) -> dict[str, int]:
    out = dict.fromkeys(words(card_title), 1)
    out.update(dict.fromkeys(words(track_title), 2))
    return out


class IconIndex:
    """The icon set, prepared for scoring. Pure: no I/O."""

    def __init__(self, icons: Sequence[Icon], *, default_terms: Sequence[str] = DEFAULT_TERMS) -> None:
        unique: dict[str, Icon] = {}
        for icon in icons:
            unique.setdefault(icon.media_id, icon)
        self._entries = [_Entry.of(i) for i in sorted(unique.values(), key=lambda i: (i.title.lower(), i.media_id))]
        self._by_id = {e.icon.media_id: e.icon for e in self._entries}
        self._default_terms = tuple(default_terms)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, media_id: str) -> Icon | None:
        return self._by_id.get(media_id)

    def _ranked(self, weighted: dict[str, int], *, prefix: bool = False) -> list[tuple[int, Icon]]:
        scored = []
        for e in self._entries:
            points, unmatched = e.score(weighted, prefix=prefix)
            if points > 0:
                scored.append((-points, unmatched, len(e.icon.title), e.icon.title.lower(), e.icon.media_id, e.icon))
        scored.sort(key=lambda s: s[:5])
        return [(-s[0], s[5]) for s in scored]

    def best(self, track_title: str, card_title: str = "") -> Icon | None:
        """The best-matching icon, or None when no word matches at all."""
        ranked = self._ranked(_weights(track_title, card_title))
        return ranked[0][1] if ranked else None

    def default(self) -> Icon | None:
        for term in self._default_terms:
            found = self.best(term)
            if found:
                return found
        return self._entries[0].icon if self._entries else None

    def choose(self, track_title: str, card_title: str = "") -> Icon | None:
        """The icon for a track: the best match, else the default (None only for an empty set)."""
        return self.best(track_title, card_title) or self.default()

    def search(self, q: str, *, limit: int = 50) -> list[Icon]:
        """Icons for the UI's picker: matches of `q` (word prefixes count), best
        first; every icon by title when `q` has no words."""
        query = dict.fromkeys(words(q), 1)
        if not query:
            return [e.icon for e in self._entries[:limit]]
        return [icon for _, icon in self._ranked(query, prefix=True)[:limit]]


class IconCatalog:
    """The public icon set, cached per process for `ttl_s` (hours by default).

    Yoto answers the list only with an access token, so each call passes one;
    the list is the same for every account, so one cache serves them all."""

    def __init__(
        self,
        cloud: YotoCloud,
        *,
        ttl_s: float = 6 * 3600,
        retry_s: float = 60,
        clock: Callable[[], float] = time.monotonic,
        default_terms: Sequence[str] = DEFAULT_TERMS,
    ) -> None:
        self._cloud = cloud
        self._ttl_s = ttl_s
        self._retry_s = retry_s
        self._clock = clock
        self._default_terms = default_terms
        self._lock = threading.Lock()
        self._index: IconIndex | None = None
        self._fresh_until = float("-inf")

    def index(self, token: str) -> IconIndex:
        """The cached index; loads it when missing or older than the TTL. If a
        reload fails while an older list is at hand, that list is served and the
        reload tried again after `retry_s`."""
        if self._index is not None and self._clock() < self._fresh_until:
            return self._index
        with self._lock:
            if self._index is not None and self._clock() < self._fresh_until:
                return self._index
            try:
                icons = self._cloud.public_icons(token)
            except Exception:
                if self._index is None:
                    raise
                self._fresh_until = self._clock() + self._retry_s
                return self._index
            self._index = IconIndex(icons, default_terms=self._default_terms)
            self._fresh_until = self._clock() + self._ttl_s
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._fresh_until = float("-inf")

    def choose(self, token: str, track_title: str, card_title: str = "") -> Icon | None:
        return self.index(token).choose(track_title, card_title)

    def search(self, token: str, q: str, *, limit: int = 50) -> list[Icon]:
        return self.index(token).search(q, limit=limit)
