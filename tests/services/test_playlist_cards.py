"""The card that follows a playlist, debounced, on the in-process Yoto cloud's clock:
the debounce timer is a manual scheduler the test fires, so no test sleeps out a window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.errors import NotFound
from core.records import Card, User
from services.playlist_cards import PlaylistCards
from services.playlists import Playlists
from tests.services.memory_root import add_item, linked_admin_root
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM, KID = User("mum", is_admin=True, id="mum"), User("kid", id="kid")
WINDOW_S = 4.0


@dataclass
class Waiting:
    at: datetime
    action: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimers:
    """`PlaylistCards`' scheduler: each timer waits here until `run_due` finds its time has come."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.waiting: list[Waiting] = []

    def __call__(self, delay_s: float, action: Callable[[], None]) -> Waiting:
        timer = Waiting(self.now() + timedelta(seconds=delay_s), action)
        self.waiting.append(timer)
        return timer

    def live(self) -> list[Waiting]:
        return [t for t in self.waiting if not t.cancelled]

    def run_due(self) -> int:
        due = [t for t in self.live() if t.at <= self.now()]
        for timer in due:
            self.waiting.remove(timer)
            timer.action()
        return len(due)


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud()


@pytest.fixture
def root(cloud: InProcessCloud, tmp_path: Path) -> Root:
    root = linked_admin_root(cloud, tmp_path)
    root.adapters.identity.create_user("kid", "purple monkey dishwasher")
    return root


@pytest.fixture
def timers(cloud: InProcessCloud) -> ManualTimers:
    return ManualTimers(cloud.now)


def _followers(root: Root, cloud: InProcessCloud, timers: ManualTimers, *, timer: bool = True) -> PlaylistCards:
    r = root.records
    return PlaylistCards(
        root.cards, r.playlists, r.counters, debounce_s=WINDOW_S, timer=timer, now=cloud.now, schedule=timers
    )


@pytest.fixture
def followers(root: Root, cloud: InProcessCloud, timers: ManualTimers) -> PlaylistCards:
    return _followers(root, cloud, timers)


@pytest.fixture
def playlists(root: Root, followers: PlaylistCards) -> Playlists:
    return Playlists(root.records.playlists, followers)


def _with_card(playlists: Playlists, name: str, items: list[str]) -> tuple[str, Card]:
    """A playlist of mum's holding `items`, and its card (written now)."""
    pid = playlists.create(MUM, name, items).playlist.id
    return pid, playlists.make_card(MUM, pid)


def _one_edit_pending(root: Root, playlists: Playlists) -> tuple[str, Card, list[str]]:
    """A playlist of one item with its card, then a second item added inside the window."""
    items = [add_item(root, "One"), add_item(root, "Two")]
    pid, card = _with_card(playlists, "Car trip", items[:1])
    assert playlists.add_item(MUM, pid, items[1]).sync.state == "pending"
    return pid, card, items


def _ids_on(cloud: InProcessCloud, yoto_card_id: str | None) -> list[str]:
    card = cloud.card(str(yoto_card_id))
    assert card is not None
    return [c["tracks"][0]["trackUrl"].rsplit("/", 1)[1].split(".")[0] for c in card["content"]["chapters"]]


def _writes(cloud: InProcessCloud) -> int:
    return len(cloud.requests("POST", "/content"))


def test_a_burst_after_a_quiet_window_is_one_write_when_the_timer_ends_it(
    root: Root, cloud: InProcessCloud, timers: ManualTimers, followers: PlaylistCards, playlists: Playlists
) -> None:
    a, b, c, d = (add_item(root, t) for t in ("One", "Two", "Three", "Four"))
    pid, card = _with_card(playlists, "Car trip", [a, b])
    assert _writes(cloud) == 1 and timers.waiting == []
    cloud.advance(WINDOW_S + 0.1)
    # The first edit after a quiet window is written at once, and no timer waits.
    assert playlists.add_item(MUM, pid, c).sync.state == "synced"
    assert _ids_on(cloud, card.yoto_card_id) == [a, b, c] and _writes(cloud) == 2 and timers.waiting == []
    # A burst right after it: every edit pending within the window, one timer for all of them.
    last_write = root.records.cards.get(card.id).synced_at
    assert last_write is not None
    burst = [
        playlists.add_item(MUM, pid, d),
        playlists.move_item(MUM, pid, 3, 0),
        playlists.remove_item(MUM, pid, 1),
        playlists.update(MUM, pid, name="Car trip, again"),
    ]
    for view in burst:
        assert view.sync.state == "pending" and 0 < view.sync.due_in_s <= WINDOW_S, view.sync
    (timer,) = timers.waiting
    end_of_window = last_write + timedelta(seconds=WINDOW_S + 0.05)  # the cloud's clock also runs with the wall's
    assert abs((timer.at - end_of_window).total_seconds()) < 0.1
    assert followers.pending_timers() == 1 and _writes(cloud) == 2
    cloud.advance(WINDOW_S / 2)
    assert timers.run_due() == 0 and _writes(cloud) == 2
    cloud.advance(WINDOW_S / 2 + 0.05)
    assert timers.run_due() == 1
    # One write for the four edits, of the playlist as it is now; nothing waits after it.
    assert _writes(cloud) == 3 and timers.waiting == [] and followers.pending_timers() == 0
    final = playlists.get(MUM, pid)
    assert final.playlist.audio_ids == (d, b, c) and final.sync.state == "synced"
    assert _ids_on(cloud, card.yoto_card_id) == [d, b, c]
    assert cloud.card(str(card.yoto_card_id))["title"] == "Car trip, again"  # type: ignore[index]
    assert root.records.cards.get(card.id).synced_version == final.playlist.version
    assert list(cloud.cards()) == [card.yoto_card_id] and _writes(cloud) == 3  # never a second card or write


def test_without_the_timer_a_dirty_card_waits_for_the_next_read(
    root: Root, cloud: InProcessCloud, timers: ManualTimers
) -> None:
    """How it runs on Lambda: no thread outlives the request."""
    followers = _followers(root, cloud, timers, timer=False)
    playlists = Playlists(root.records.playlists, followers)
    a, b = add_item(root, "One"), add_item(root, "Two")
    pid, card = _with_card(playlists, "Car trip", [a, b])
    edit = playlists.update(MUM, pid, audio_ids=[b])
    assert edit.sync.state == "pending" and WINDOW_S - 1 < edit.sync.due_in_s <= WINDOW_S
    cloud.advance(WINDOW_S + 0.1)
    assert timers.waiting == [] and followers.pending_timers() == 0
    assert _ids_on(cloud, card.yoto_card_id) == [a, b] and _writes(cloud) == 1  # nothing ran in the background
    (listed,) = playlists.list(MUM, everyone=False, limit=10, cursor=None).items
    assert listed.sync.state == "pending" and listed.sync.due_in_s == 0  # a listing writes nothing
    assert _writes(cloud) == 1
    assert playlists.get(MUM, pid).sync.state == "synced"  # the next read of the playlist writes it
    assert _ids_on(cloud, card.yoto_card_id) == [b] and _writes(cloud) == 2


def test_deleting_a_playlist_cancels_its_timer_and_deletes_its_card(
    root: Root, cloud: InProcessCloud, timers: ManualTimers, playlists: Playlists
) -> None:
    pid, card, _ = _one_edit_pending(root, playlists)
    (timer,) = timers.waiting
    playlists.delete(MUM, pid)
    assert timer.cancelled and cloud.cards() == {}
    with pytest.raises(NotFound):
        root.records.cards.get(card.id)
    cloud.advance(WINDOW_S + 1)
    assert timers.run_due() == 0 and _writes(cloud) == 1
    timer.action()  # a timer already running when the playlist went finds nothing to write
    assert _writes(cloud) == 1


def test_an_edit_while_yoto_fails_is_kept_and_the_card_catches_up_on_the_next_read(
    root: Root, cloud: InProcessCloud, timers: ManualTimers, playlists: Playlists
) -> None:
    a, b, c = add_item(root, "One"), add_item(root, "Two"), add_item(root, "Three")
    pid, card = _with_card(playlists, "Flaky", [a])
    cloud.advance(WINDOW_S + 0.1)
    cloud.server_error_next(count=50, path_prefix="/content")
    edit = playlists.add_item(MUM, pid, b)
    assert edit.playlist.audio_ids == (a, b)  # the playlist is the truth
    assert edit.sync.state == "failed" and "Yoto failed" in str(edit.sync.detail)
    assert timers.waiting == [] and root.records.playlists.get(pid).audio_ids == (a, b)
    # The card is still due: the next edit tries again at once, and fails while Yoto does.
    assert playlists.add_item(MUM, pid, c).sync.state == "failed"
    assert _ids_on(cloud, card.yoto_card_id) == [a]
    cloud.clear_faults()
    assert playlists.get(MUM, pid).sync.state == "synced"
    assert _ids_on(cloud, card.yoto_card_id) == [a, b, c]


def test_a_timer_whose_write_fails_leaves_the_card_dirty_for_the_next_read(
    root: Root, cloud: InProcessCloud, timers: ManualTimers, playlists: Playlists
) -> None:
    pid, card, (a, b) = _one_edit_pending(root, playlists)
    cloud.advance(WINDOW_S + 0.1)
    cloud.server_error_next(count=50, path_prefix="/content")
    assert timers.run_due() == 1  # the failure is logged, not raised on the timer's thread
    assert _ids_on(cloud, card.yoto_card_id) == [a] and timers.waiting == []
    assert root.records.cards.get(card.id).synced_version != root.records.playlists.get(pid).version
    cloud.clear_faults()
    assert playlists.get(MUM, pid).sync.state == "synced"
    assert _ids_on(cloud, card.yoto_card_id) == [a, b]


def test_a_member_cannot_edit_or_card_anothers_playlist_and_an_unknown_one_is_not_found(
    root: Root, cloud: InProcessCloud, timers: ManualTimers, playlists: Playlists
) -> None:
    a, b = add_item(root, "One"), add_item(root, "Two")
    pid, _ = _with_card(playlists, "Mum's", [a])
    for attempt in (
        lambda: playlists.add_item(KID, pid, b),
        lambda: playlists.make_card(KID, pid),
        lambda: playlists.reshuffle(KID, pid),
        lambda: playlists.delete(KID, pid),
    ):
        with pytest.raises(NotFound, match=f"no playlist {pid}"):
            attempt()
    with pytest.raises(NotFound, match="no playlist nosuchplaylist"):
        playlists.get(MUM, "nosuchplaylist")
    with pytest.raises(NotFound, match="no playlist nosuchplaylist"):
        playlists.make_card(MUM, "nosuchplaylist")
    assert root.records.playlists.get(pid).audio_ids == (a,)
    assert _writes(cloud) == 1 and timers.waiting == [] and len(cloud.cards()) == 1
