"""Clock arithmetic for scheduled jobs: when a job is next due, in UTC.

A routine says "19:30 on mon, wed" in the family's time zone; the next due
moment is found day by day in local dates, and each local date gives exactly
one instant, so a daylight-saving change can neither skip nor double a run:

- a time inside the spring-forward gap (01:30 where clocks jump 01:00 → 02:00)
  does not exist that day; it runs once, the gap's length later by the wall
  clock (02:30), which is the same elapsed time after midnight;
- a time the fall-back repeats (01:30 twice) runs once, at its first
  occurrence (PEP 495 `fold=0`).

An interval job (a podcast every 6 hours) is plain elapsed time, unaffected by
the wall clock. Either way the next due moment is computed strictly after
*now*, not after the moment that was missed, so a run missed while nothing was
running (a laptop asleep) happens once on wake-up, not once per missed slot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_clock(at: str) -> time:
    match = CLOCK.fullmatch(at) if isinstance(at, str) else None
    if match is None:
        raise ValueError(f"a time of day is HH:MM on a 24-hour clock, not {at!r}")
    return time(int(match.group(1)), int(match.group(2)))


def check_days(days: Sequence[str]) -> tuple[str, ...]:
    """The days in week order without repeats; ValueError for an unknown one or none."""
    unknown = [d for d in days if d not in DAYS]
    if unknown or not days:
        raise ValueError(f"days are some of {', '.join(DAYS)}" + (f", not {unknown[0]!r}" if unknown else ""))
    return tuple(d for d in DAYS if d in days)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant `at` names on the local date `day` (rules in the module docstring)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)  # fold=0: first of two, gap shifts forward


def next_weekly(at: str, days: Sequence[str], tz: ZoneInfo, after: datetime) -> datetime:
    """The first instant strictly after `after` when it is `at` on one of `days` in `tz`."""
    clock, wanted = parse_clock(at), set(check_days(days))
    start = after.astimezone(tz).date() - timedelta(days=1)  # a gap can move a late slot past midnight
    for offset in range(9):
        day = start + timedelta(days=offset)
        if DAYS[day.weekday()] in wanted:
            due = local_instant(day, clock, tz)
            if due > after:
                return due
    raise AssertionError("a weekly slot always falls within nine days")


def next_interval(every_s: int, after: datetime, last: datetime | None = None) -> datetime:
    """`every_s` after the last run, or after `after` when that is already past (once, not N times)."""
    if every_s <= 0:
        raise ValueError("an interval must be positive")
    step = timedelta(seconds=every_s)
    if last is not None and last + step > after:
        return last + step
    return after + step
