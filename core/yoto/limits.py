"""Yoto's limits for a card of audio it stores, checked before anything is sent.

At most 100 tracks; a track at most 60 minutes and 100 MB; a card at most 5
hours and 500 MB (settings `MAX_CARD_TRACKS`, `YOTO_MAX_*`). A card over any
is refused naming each limit and by how much (docs/yoto.md, "Yoto's limits").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import Invalid
from core.settings import Settings

MB = 1024 * 1024


@dataclass(frozen=True)
class CardLimits:
    max_tracks: int = 100
    max_track_s: float = 3600.0
    max_track_bytes: int = 100 * MB
    max_card_s: float = 5 * 3600.0
    max_card_bytes: int = 500 * MB

    @classmethod
    def of(cls, settings: Settings) -> CardLimits:
        return cls(
            max_tracks=settings.max_card_tracks,
            max_track_s=settings.yoto_max_track_minutes * 60,
            max_track_bytes=int(settings.yoto_max_track_mb * MB),
            max_card_s=settings.yoto_max_card_hours * 3600,
            max_card_bytes=int(settings.yoto_max_card_mb * MB),
        )


@dataclass(frozen=True)
class Sized:
    """What the limits look at in one track."""

    title: str
    duration_s: float
    size_bytes: int


def span(seconds: float) -> str:
    """A length as a family reads it: "1 h 5 min", "59 min", "40 s"."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min" if not secs or minutes >= 10 else f"{minutes} min {secs} s"
    return f"{secs} s"


def size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n % MB else f"{n // MB} MB"


def breaches(limits: CardLimits, tracks: Sequence[Sized]) -> list[str]:
    """Each limit the card passes, in words, with by how much; empty when it fits."""
    found: list[str] = []
    if len(tracks) > limits.max_tracks:
        over = len(tracks) - limits.max_tracks
        found.append(f"{len(tracks)} tracks is {over} over the {limits.max_tracks} a card may hold (MAX_CARD_TRACKS)")
    for n, track in enumerate(tracks, 1):
        if track.duration_s > limits.max_track_s:
            over = track.duration_s - limits.max_track_s
            found.append(
                f"track {n} “{track.title}” lasts {span(track.duration_s)}, {span(over)} over the"
                f" {span(limits.max_track_s)} a track may last (YOTO_MAX_TRACK_MINUTES)"
            )
        if track.size_bytes > limits.max_track_bytes:
            over_bytes = track.size_bytes - limits.max_track_bytes
            found.append(
                f"track {n} “{track.title}” is {size(track.size_bytes)}, {size(over_bytes)} over the"
                f" {size(limits.max_track_bytes)} a track may be (YOTO_MAX_TRACK_MB)"
            )
    total_s = sum(t.duration_s for t in tracks)
    if total_s > limits.max_card_s:
        found.append(
            f"the card lasts {span(total_s)}, {span(total_s - limits.max_card_s)} over the"
            f" {span(limits.max_card_s)} a card may hold (YOTO_MAX_CARD_HOURS)"
        )
    total_bytes = sum(t.size_bytes for t in tracks)
    if total_bytes > limits.max_card_bytes:
        found.append(
            f"the card is {size(total_bytes)}, {size(total_bytes - limits.max_card_bytes)} over the"
            f" {size(limits.max_card_bytes)} a card may hold (YOTO_MAX_CARD_MB)"
        )
    return found


def check(limits: CardLimits, tracks: Sequence[Sized]) -> None:
    """`Invalid` (a 422) naming every limit the card passes and by how much."""
    found = breaches(limits, tracks)
    if found:
        raise Invalid("over Yoto's limits: " + "; ".join(found), limits=found)
