"""Cards that open one chapter a day (or a week): the date each chapter opens.

Chapter n opens at midnight, on the family's clock, of `first` plus n-1 steps;
the instant is written as UTC, so a player holds the lock offline and a change
of summer time moves nothing. Pure: the time zone and the clock are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

EVERY = {"day": 1, "week": 7}
MAX_CHAPTERS = 366


class OpensError(ValueError):
    """A schedule that cannot be kept; the message says why."""


@dataclass(frozen=True)
class Opens:
    first: date
    every: str = "day"

    @classmethod
    def parse(cls, first: str, every: str = "day") -> Opens:
        try:
            day = date.fromisoformat(first)
        except (TypeError, ValueError):
            raise OpensError(f'opens.from must be a date "YYYY-MM-DD" (got {first!r})') from None
        if every not in EVERY:
            raise OpensError(f"opens.every must be one of {', '.join(EVERY)} (got {every!r})")
        return cls(day, every)

    def day_of(self, n: int) -> date:
        """The date chapter `n` (1-based) opens."""
        return self.first + timedelta(days=EVERY[self.every] * (n - 1))

    def instants(self, chapters: int, zone: tzinfo) -> list[datetime]:
        """When each of `chapters` chapters opens, as aware UTC instants."""
        if not 0 < chapters <= MAX_CHAPTERS:
            raise OpensError(f"a day-by-day card holds 1 to {MAX_CHAPTERS} chapters (this one {chapters})")
        return [datetime.combine(self.day_of(n), time(0), tzinfo=zone).astimezone(UTC) for n in range(1, chapters + 1)]

    def open_now(self, chapters: int, zone: tzinfo, now: datetime) -> int:
        """How many of the chapters are open at `now`."""
        return sum(1 for at in self.instants(chapters, zone) if at <= now)


def iso(instant: datetime) -> str:
    """Yoto's date-time form: ISO 8601 in UTC with milliseconds and a Z."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
