"""The dates a day-by-day card's chapters open: midnight on the family's clock,
written as UTC, right across a change of summer time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.day_by_day import Opens, OpensError, iso

LONDON = ZoneInfo("Europe/London")


def test_an_advent_card_opens_chapter_n_on_the_nth_of_december() -> None:
    opens = Opens.parse("2026-12-01")
    at = [iso(i) for i in opens.instants(24, LONDON)]
    assert at[0] == "2026-12-01T00:00:00.000Z" and at[23] == "2026-12-24T00:00:00.000Z"
    assert opens.open_now(24, LONDON, datetime(2026, 12, 7, 18, 0, tzinfo=UTC)) == 7
    assert opens.open_now(24, LONDON, datetime(2026, 11, 30, 23, 59, tzinfo=UTC)) == 0


def test_midnight_stays_midnight_across_the_change_to_summer_time() -> None:
    at = Opens.parse("2027-03-27").instants(3, LONDON)
    assert [iso(i) for i in at] == [
        "2027-03-27T00:00:00.000Z",
        "2027-03-28T00:00:00.000Z",  # the clocks go forward at 01:00 that night
        "2027-03-28T23:00:00.000Z",  # midnight of the 29th in summer time
    ]
    assert all(i.astimezone(LONDON).hour == 0 for i in at)


def test_weekly_and_other_zones() -> None:
    at = Opens.parse("2027-01-04", "week").instants(3, ZoneInfo("America/New_York"))
    assert [iso(i) for i in at] == ["2027-01-04T05:00:00.000Z", "2027-01-11T05:00:00.000Z", "2027-01-18T05:00:00.000Z"]


@pytest.mark.parametrize(
    ("first", "every", "reason"),
    [("1 Dec", "day", "YYYY-MM-DD"), ("2026-12-01", "month", "one of day, week")],
)
def test_a_bad_schedule_says_why(first: str, every: str, reason: str) -> None:
    with pytest.raises(OpensError, match=reason):
        Opens.parse(first, every)
    with pytest.raises(OpensError, match="1 to 366"):
        Opens.parse("2026-12-01").instants(0, LONDON)
