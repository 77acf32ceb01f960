"""Command payloads, built and checked before anything is published.

Each builder returns a `Command` (the topic family under `device/{id}/command/`
and the exact bytes to send) or raises `InvalidCommand` with a reason a person
can read (the API turns it into a 422). Pure: no network, no clock.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mqtt.protocol import COMMAND_SCALE_MAX

CARD_URI = "https://yoto.io/{card_id}"
SLEEP_TIMER_MAX_MINUTES = 24 * 60
_CARD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX = re.compile(r"#?([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})")


class InvalidCommand(ValueError):
    """A command that must not be published; the message says why."""


@dataclass(frozen=True)
class Command:
    family: str  # the topic suffix, e.g. "card/start"
    body: dict[str, Any] | None = None  # None: an empty payload

    @property
    def payload(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


def play(
    card_id: str,
    *,
    chapter: int | None = None,
    track: int | None = None,
    seconds_in: int | float = 0,
) -> Command:
    """`card/start`; chapter and track are numbers, sent as zero-padded keys."""
    if not isinstance(card_id, str) or not _CARD_ID.fullmatch(card_id):
        raise InvalidCommand("card_id must be a Yoto card id (letters, digits, - or _)")
    body: dict[str, Any] = {"uri": CARD_URI.format(card_id=card_id)}
    if chapter is not None:
        body["chapterKey"] = padded_key(_whole(chapter, "chapter", low=1))
    if track is not None:
        body["trackKey"] = padded_key(_whole(track, "track", low=1))
    body["secondsIn"] = _whole(seconds_in, "seconds_in", low=0)
    body["cutOff"] = 0
    body["anyButtonStop"] = False
    return Command("card/start", body)


def pause() -> Command:
    return Command("card/pause")


def resume() -> Command:
    return Command("card/resume")


def stop() -> Command:
    return Command("card/stop")


def volume(percent: int) -> Command:
    """`volume/set` on the 0–100 scale; the player lands on its nearest step."""
    return Command("volume/set", {"volume": _whole(percent, "volume", low=0, high=COMMAND_SCALE_MAX)})


def sleep_timer(minutes: int) -> Command:
    """`sleep-timer/set` in seconds; 0 minutes turns the timer off."""
    m = _whole(minutes, "minutes", low=0, high=SLEEP_TIMER_MAX_MINUTES)
    return Command("sleep-timer/set", {"seconds": m * 60})


def ambient(
    hex_colour: str | None = None, *, r: int | None = None, g: int | None = None, b: int | None = None
) -> Command:
    """`ambients/set` from `#rrggbb` / `#rgb`, or from r, g, b (0–255 each)."""
    if hex_colour is not None:
        if any(v is not None for v in (r, g, b)):
            raise InvalidCommand("give either hex or r, g, b, not both")
        match = _HEX.fullmatch(hex_colour.strip()) if isinstance(hex_colour, str) else None
        if not match:
            raise InvalidCommand("hex must look like #rrggbb or #rgb")
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    elif r is None or g is None or b is None:
        raise InvalidCommand("ambient needs hex or all of r, g, b")
    rgb = {name: _whole(v, name, low=0, high=255) for name, v in (("r", r), ("g", g), ("b", b))}
    return Command("ambients/set", rgb)


def events_request() -> Command:
    return Command("events/request")


def status_request() -> Command:
    return Command("status/request")


def padded_key(number: int) -> str:
    """Chapter and track number → the key a card uses ("01", "02", … "10", "123")."""
    return f"{number:02d}"


def adjacent_chapter(chapter_keys: Sequence[str], current: str | None, step: int) -> str | None:
    """The chapter key `step` places from `current` in a card's chapter order,
    or None past either end. No current chapter: `next` starts at the first."""
    if not chapter_keys:
        return None
    if current not in chapter_keys:
        return chapter_keys[0] if step > 0 else None
    index = list(chapter_keys).index(current) + step
    return chapter_keys[index] if 0 <= index < len(chapter_keys) else None


def _whole(value: object, name: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
        raise InvalidCommand(f"{name} must be a whole number")
    number = int(value)
    if number < low or (high is not None and number > high):
        bounds = f"{low}–{high}" if high is not None else f"at least {low}"
        raise InvalidCommand(f"{name} must be {bounds}")
    return number
