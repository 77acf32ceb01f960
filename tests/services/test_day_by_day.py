"""The dates a day-by-day card's chapters open: midnight on the family's clock,
written as UTC, right across a change of summer time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.day_by_day import Opens, OpensError, iso
from core.errors import Invalid
from core.records import User
from core.yoto.cloud import TokenGrant
from tests.services.memory_root import add_item, memory_root
from tests.yoto_inprocess import InProcessCloud

MUM = User("mum", is_admin=True, id="mum")

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


# --------------------------------------------------------------------------- a day-by-day playlist card


def advent_root(cloud: Any, tmp_path: Path) -> Any:
    root = memory_root(cloud, tmp_path, family_timezone="Europe/London", card_sync_debounce_s=0)
    root.adapters.identity.create_user("mum", "correct horse battery staple", is_admin=True)
    answer = cloud.issue_tokens()
    root.tokens.store_new_link("mum", TokenGrant(answer["access_token"], 3600, answer["refresh_token"]))
    return root


def test_an_advent_card_from_a_playlist_carries_each_chapters_opening(cloud: InProcessCloud, tmp_path: Path) -> None:
    root = advent_root(cloud, tmp_path)
    items = [add_item(root, f"Story {n}") for n in range(1, 25)]
    view = root.playlists.create(MUM, "Advent", items, storage="stream")
    card = root.playlists.make_card(MUM, view.playlist.id, opens={"from": "2026-12-01", "every": "day"})
    chapters = cloud.card(card.yoto_card_id)["content"]["chapters"]
    assert len(chapters) == 24
    assert [c["availableFrom"] for c in chapters[:2]] == ["2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"]
    assert chapters[23]["availableFrom"] == "2026-12-24T00:00:00.000Z"

    shown = root.playlists.get(MUM, view.playlist.id)
    assert shown.schedule is not None and shown.schedule.opens.every == "day"
    # the in-process cloud's clock is the records' clock too: count what is open at its "now"
    now = cloud.now()
    assert shown.schedule.open_now == sum(1 for at in shown.schedule.opens_at if at <= now)

    cleared = root.playlists.update(MUM, view.playlist.id, opens=None)  # every chapter open again, same card
    assert cleared.schedule is None and cleared.sync.state == "synced"
    again = cloud.card(card.yoto_card_id)["content"]["chapters"]
    assert all("availableFrom" not in c for c in again)


def test_a_bad_schedule_is_refused_and_nothing_is_made(cloud: InProcessCloud, tmp_path: Path) -> None:
    root = advent_root(cloud, tmp_path)
    view = root.playlists.create(MUM, "Advent", [add_item(root, "Story")], storage="stream")
    with pytest.raises(Invalid, match="YYYY-MM-DD"):
        root.playlists.make_card(MUM, view.playlist.id, opens={"from": "first of December"})
    assert root.records.playlists.get(view.playlist.id).card_id is None
