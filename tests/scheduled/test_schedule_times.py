"""DST-correct clock arithmetic (`services.schedule_times`): no routine is
skipped or doubled when the clocks change, and a missed slot runs once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.schedule_times import check_days, next_interval, next_weekly, parse_clock

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def runs(at: str, days: tuple[str, ...], tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every due instant between start and end, as a scheduler stepping from one run to the next sees them."""
    out, now = [], start
    while True:
        now = next_weekly(at, days, tz, now)
        if now > end:
            return out
        out.append(now)


def test_bedtime_keeps_its_wall_clock_time_across_both_changes() -> None:
    # London: spring forward 2026-03-29 01:00 UTC, fall back 2026-10-25 01:00 UTC.
    spring = runs("19:30", EVERY_DAY, LONDON, datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert [r.astimezone(LONDON).strftime("%d %H:%M") for r in spring] == [
        "27 19:30", "28 19:30", "29 19:30", "30 19:30", "31 19:30"
    ]  # fmt: skip
    assert spring[1].hour == 19 and spring[2].hour == 18  # GMT, then BST: an hour apart in UTC
    autumn = runs("19:30", EVERY_DAY, LONDON, datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 28, tzinfo=UTC))
    assert [r.astimezone(LONDON).strftime("%d %H:%M") for r in autumn] == [
        "23 19:30", "24 19:30", "25 19:30", "26 19:30", "27 19:30"
    ]  # fmt: skip
    assert [b - a for a, b in itertools.pairwise(autumn)] == [
        timedelta(days=1), timedelta(hours=25), timedelta(days=1), timedelta(days=1)
    ]  # fmt: skip


def test_a_time_in_the_spring_gap_runs_once_that_day() -> None:
    """01:30 does not exist in London on 29 March 2026: it runs once, at 02:30 BST (01:30 UTC)."""
    got = runs("01:30", EVERY_DAY, LONDON, datetime(2026, 3, 27, 12, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC))
    assert [r.isoformat() for r in got] == [
        "2026-03-28T01:30:00+00:00", "2026-03-29T01:30:00+00:00",
        "2026-03-30T00:30:00+00:00", "2026-03-31T00:30:00+00:00",
    ]  # fmt: skip
    assert got[1].astimezone(LONDON).strftime("%H:%M %Z") == "02:30 BST"


def test_a_time_the_fall_back_repeats_runs_once() -> None:
    """01:30 happens twice in New York on 1 November 2026: only the first runs."""
    got = runs(
        "01:30", EVERY_DAY, NEW_YORK, datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC)
    )
    assert [r.isoformat() for r in got] == ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
    assert got[0].astimezone(NEW_YORK).strftime("%H:%M %Z") == "01:30 EDT"


def test_weekdays_only_and_strictly_after() -> None:
    friday_due = datetime(2026, 6, 5, 18, 30, tzinfo=UTC)  # 19:30 BST, a Friday
    assert next_weekly("19:30", ("mon", "fri"), LONDON, friday_due - timedelta(seconds=1)) == friday_due
    assert next_weekly("19:30", ("mon", "fri"), LONDON, friday_due) == datetime(2026, 6, 8, 18, 30, tzinfo=UTC)


def test_a_laptop_asleep_for_a_week_runs_a_missed_slot_once() -> None:
    last = datetime(2026, 6, 1, 18, 30, tzinfo=UTC)
    woke = last + timedelta(days=7, hours=3)
    assert next_weekly("19:30", EVERY_DAY, LONDON, woke) == datetime(2026, 6, 8, 18, 30, tzinfo=UTC) + timedelta(days=1)
    assert next_interval(6 * 3600, woke, last) == woke + timedelta(hours=6)
    assert next_interval(6 * 3600, last + timedelta(hours=1), last) == last + timedelta(hours=6)


def test_refusals() -> None:
    for bad in ("7:30", "24:00", "19:60", "19.30", ""):
        with pytest.raises(ValueError):
            parse_clock(bad)
    with pytest.raises(ValueError):
        check_days(["mon", "funday"])
    with pytest.raises(ValueError):
        check_days([])
    assert check_days(["sun", "mon", "mon"]) == ("mon", "sun")
