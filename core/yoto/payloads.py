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

from core.yoto.protocol import COMMAND_SCALE_MAX

CARD_URI = "https://yoto.io/{card_id}"
SLEEP_TIMER_MAX_MINUTES = 24 * 60
_CARD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX = re.compile(r"#?([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


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
    seconds_in: int | float | None = None,
    chapter_key: str | None = None,
) -> Command:
    """`card/start`. A plain play (no chapter, track or offset) sends the card's
    URI alone, so the player resumes where it left off; a targeted play names the
    chapter (a number, sent zero-padded, or a card's own `chapter_key` such as a
    shop card's "01-INT"), the track and starts `seconds_in` (default 0) into it."""
    if not isinstance(card_id, str) or not _CARD_ID.fullmatch(card_id):
        raise InvalidCommand("card_id must be a Yoto card id (letters, digits, - or _)")
    if chapter is not None and chapter_key is not None:
        raise InvalidCommand("give chapter or chapter_key, not both")
    body: dict[str, Any] = {"uri": CARD_URI.format(card_id=card_id)}
    if chapter is not None:
        body["chapterKey"] = padded_key(_whole(chapter, "chapter", low=1))
    if chapter_key is not None:
        if not isinstance(chapter_key, str) or not _KEY.fullmatch(chapter_key):
            raise InvalidCommand("chapter_key must be a card's chapter key")
        body["chapterKey"] = chapter_key
    if track is not None:
        body["trackKey"] = padded_key(_whole(track, "track", low=1))
    if seconds_in is not None or len(body) > 1:
        body["secondsIn"] = _whole(0 if seconds_in is None else seconds_in, "seconds_in", low=0)
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
    """Answered on `data/status`."""
    return Command("status/request")


def full_status_request(request_id: str) -> Command:
    """`command/status` with a request id, answered on `status/full` (wifi, ssid,
    uptime, temperatures: more than `status/request` gives)."""
    if not isinstance(request_id, str) or not _KEY.fullmatch(request_id):
        raise InvalidCommand("request_id must be letters, digits, - or _")
    return Command("status", {"requestId": request_id})


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
