"""Cards and the cards that follow playlists, as the composition root builds them, on the
memory adapters and the in-process Yoto cloud; the debounce runs on a manual clock."""

from __future__ import annotations

import pytest

from core.errors import RelinkNeeded
from core.records import User
from services import cards
from services.cards import CardSpec, TrackSpec
from services.playlist_cards import PlaylistCards
from services.playlists import Playlists
from tests.services.memory_root import PUBLIC_URL, add_item
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
DEBOUNCE_S = 3.0


def _item(root: Root, title: str) -> str:
    return add_item(root, title)


def _chapters(cloud: InProcessCloud, yoto_card_id: str) -> list[dict]:
    card = cloud.card(yoto_card_id)
    assert card is not None
    return list(card["content"]["chapters"])


def test_a_card_has_one_chapter_per_track_streaming_from_our_signed_urls(root: Root, cloud: InProcessCloud) -> None:
    a, b = _item(root, "Part one"), _item(root, "Part two")
    card = cards.create(root.cards, MUM, CardSpec("Gruffalo", [TrackSpec(a), TrackSpec(b, title="The end")]))
    assert root.records.cards.get(card.id).yoto_card_id == card.yoto_card_id
    chapters = _chapters(cloud, str(card.yoto_card_id))
    assert [c["title"] for c in chapters] == ["Part one", "The end"]
    urls = [c["tracks"][0]["trackUrl"] for c in chapters]
    assert all(u.startswith(f"{PUBLIC_URL}/s/") and u.endswith(".mp3") for u in urls)
    assert [u.split("/s/")[1].split(".")[0] for u in urls] == [a, b]


def test_a_member_with_no_yoto_link_gets_relink_and_nothing_is_made(root: Root, cloud: InProcessCloud) -> None:
    root.adapters.identity.create_user("kid", "purple monkey dishwasher")
    kid = User("kid", id="kid")
    item = _item(root, "Mine")
    root.records.audio.update(item, owner="kid")
    with pytest.raises(RelinkNeeded):
        cards.create(root.cards, kid, CardSpec("Mine", [TrackSpec(item)]))
    assert cloud.cards() == {} and not root.records.cards.list(owner="kid", limit=5).items


def test_a_playlists_card_follows_a_burst_of_edits_once_the_window_is_quiet(root: Root, cloud: InProcessCloud) -> None:
    followers = PlaylistCards(
        root.cards, root.records.playlists, root.records.counters, debounce_s=DEBOUNCE_S, timer=False, now=cloud.now
    )
    playlists = Playlists(root.records.playlists, followers)
    a, b, c = (_item(root, t) for t in ("One", "Two", "Three"))
    pid = playlists.create(MUM, "Bedtime", [a]).playlist.id
    card = playlists.make_card(MUM, pid)
    cloud.advance(DEBOUNCE_S + 0.1)  # a quiet window after the card was made
    writes = len(cloud.requests("POST", "/content"))
    assert playlists.add_item(MUM, pid, b).sync.state == "synced"  # the first edit after a quiet window: at once
    assert [ch["title"] for ch in _chapters(cloud, str(card.yoto_card_id))] == ["One", "Two"]
    pending = playlists.add_item(MUM, pid, c)
    assert pending.sync.state == "pending" and 0 < pending.sync.due_in_s <= DEBOUNCE_S
    cloud.advance(DEBOUNCE_S / 2)
    assert playlists.get(MUM, pid).sync.state == "pending"  # not due yet: nothing written
    assert len(_chapters(cloud, str(card.yoto_card_id))) == 2
    cloud.advance(DEBOUNCE_S / 2 + 0.1)
    synced = playlists.get(MUM, pid)  # the due write happens on the next read (no timer)
    assert synced.sync.state == "synced"
    assert [ch["title"] for ch in _chapters(cloud, str(card.yoto_card_id))] == ["One", "Two", "Three"]
    assert len(cloud.requests("POST", "/content")) - writes == 2  # the burst of two edits: two writes
