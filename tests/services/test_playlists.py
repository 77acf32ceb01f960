"""Playlist edits on the memory adapters: compare-and-swap versions, item rules and who may change what."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import Invalid, NotFound, VersionConflict
from core.records import AudioItem, User, new_id
from services.playlist_cards import PlaylistCards
from services.playlists import Playlists
from tests.services.memory_root import memory_root
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM, KID, GRAN = User("mum", is_admin=True, id="mum"), User("kid", id="kid"), User("gran", id="gran")


@pytest.fixture
def root(tmp_path: Path) -> Root:
    cloud = InProcessCloud()
    root = memory_root(cloud, tmp_path, max_card_tracks=3)
    for user in (MUM, KID, GRAN):
        root.adapters.identity.create_user(user.username, "correct horse battery staple", is_admin=user.is_admin)
    return root


@pytest.fixture
def playlists(root: Root) -> Playlists:
    r = root.records
    return Playlists(r.playlists, PlaylistCards(root.cards, r.playlists, r.counters, debounce_s=3, timer=False))


def _item(root: Root, owner: str = "kid") -> str:
    item_id = new_id()
    root.records.audio.add(
        AudioItem(
            id=item_id,
            owner=owner,
            title=f"Story {item_id[:4]}",
            storage_key=f"audio/{item_id}.mp3",
            size_bytes=100,
            duration_s=30.0,
            created_at=datetime.now(UTC),
        )
    )
    return item_id


def test_edits_move_remove_and_clear_with_versions(root: Root, playlists: Playlists) -> None:
    a, b, c = (_item(root) for _ in range(3))
    made = playlists.create(KID, "Bedtime", [a, b]).playlist
    moved = playlists.add_item(KID, made.id, c, at=0, version=made.version).playlist
    assert moved.audio_ids == (c, a, b) and moved.version > made.version
    with pytest.raises(VersionConflict, match="reload"):
        playlists.remove_item(KID, made.id, 0, version=made.version)  # an old version
    assert playlists.move_item(KID, made.id, 0, 2).playlist.audio_ids == (a, b, c)
    assert playlists.remove_item(KID, made.id, 1).playlist.audio_ids == (a, c)
    with pytest.raises(Invalid, match="not an item"):
        playlists.remove_item(KID, made.id, 5)
    assert playlists.clear(KID, made.id).playlist.audio_ids == ()


def test_items_must_exist_be_usable_and_fit_a_card(root: Root, playlists: Playlists) -> None:
    with pytest.raises(Invalid, match="no audio item nosuchitem"):
        playlists.create(KID, "Bedtime", ["nosuchitem"])
    with pytest.raises(Invalid):
        playlists.create(GRAN, "Not hers", [_item(root, owner="kid")])  # another member's item
    with pytest.raises(Invalid, match="at most 3"):
        playlists.create(KID, "Long", [_item(root) for _ in range(4)])
    with pytest.raises(Invalid, match="play_mode"):
        playlists.create(KID, "Odd", play_mode="backwards")
    with pytest.raises(Invalid):
        playlists.create(KID, "Again", play_mode="loop")  # a player setting, not a card's


def test_others_read_a_members_playlist_as_missing_and_an_admin_may_change_it(root: Root, playlists: Playlists) -> None:
    pid = playlists.create(KID, "Mine", [_item(root)]).playlist.id
    with pytest.raises(NotFound):
        playlists.get(GRAN, pid)
    with pytest.raises(NotFound):
        playlists.update(GRAN, pid, name="Taken")
    assert playlists.update(MUM, pid, name="Renamed by mum").playlist.name == "Renamed by mum"
    playlists.delete(KID, pid)
    with pytest.raises(NotFound):
        playlists.get(KID, pid)
