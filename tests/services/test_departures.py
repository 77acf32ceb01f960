"""What a deleted member leaves behind, on the memory records and storage: passed to an heir or deleted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.memory import MemoryRecords, MemoryStorage
from core.errors import NotFound
from core.records import AudioItem, Card, Playlist, Story, new_id
from services.departures import Left, hand_over


def _item(records: MemoryRecords, storage: MemoryStorage, owner: str) -> AudioItem:
    item_id = new_id()
    item = AudioItem(
        id=item_id,
        owner=owner,
        title="Story",
        storage_key=f"audio/{item_id}.mp3",
        size_bytes=3,
        duration_s=1.0,
        created_at=datetime.now(UTC),
    )
    records.audio.add(item)
    storage.put_bytes(item.storage_key, b"abc", "audio/mpeg")
    return item


def _belongings(records: MemoryRecords, storage: MemoryStorage, owner: str) -> tuple[AudioItem, Playlist, Card]:
    item = _item(records, storage, owner)
    card = Card(id=new_id(), owner=owner, title="Bedtime", yoto_card_id="yoto1", audio_ids=(item.id,))
    records.cards.add(card)
    playlist = Playlist(id=new_id(), owner=owner, name="Car trip", audio_ids=(item.id,), card_id=card.id)
    records.playlists.add(playlist)
    return item, playlist, card


def test_an_heir_gets_the_playlists_without_their_card_and_the_items_with_new_stream_keys(
    memory_records: MemoryRecords, memory_storage: MemoryStorage
) -> None:
    item, playlist, card = _belongings(memory_records, memory_storage, "kid")
    mine = _item(memory_records, memory_storage, "mum")
    left = hand_over(memory_records, memory_storage, "kid", "mum")
    assert left == Left(cards=1, playlists=1, items=1)
    with pytest.raises(NotFound):
        memory_records.cards.get(card.id)  # the card lives on the member's Yoto account: its record goes
    passed = memory_records.playlists.get(playlist.id)
    assert (passed.owner, passed.card_id, passed.audio_ids) == ("mum", None, (item.id,))
    got = memory_records.audio.get(item.id)
    assert got.owner == "mum" and got.stream_key != item.stream_key  # the old stream links stop
    assert memory_storage.head(item.storage_key).size == 3
    assert memory_records.audio.get(mine.id) == mine


def test_without_an_heir_everything_goes_bytes_too(
    memory_records: MemoryRecords, memory_storage: MemoryStorage
) -> None:
    item, playlist, _ = _belongings(memory_records, memory_storage, "kid")
    assert hand_over(memory_records, memory_storage, "kid", None) == Left(cards=1, playlists=1, items=1)
    for get, key in ((memory_records.audio.get, item.id), (memory_records.playlists.get, playlist.id)):
        with pytest.raises(NotFound):
            get(key)
    with pytest.raises(NotFound):
        memory_storage.head(item.storage_key)
    assert hand_over(memory_records, memory_storage, "kid", None) == Left()  # twice: nothing left


def test_a_members_stories_pass_on_without_their_card_or_go(
    memory_records: MemoryRecords, memory_storage: MemoryStorage
) -> None:
    card = Card(id=new_id(), owner="kid", title="Spy", yoto_card_id="yoto2", story_id="s1")
    memory_records.cards.add(card)
    scenes = [{"id": "door", "title": "The door", "audio_id": None, "ending": True}]
    memory_records.stories.add(Story(id="s1", owner="kid", title="Spy", start="door", scenes=scenes, card_id=card.id))
    memory_records.stories.add(Story(id="s2", owner="ben", title="Ben's", start="door", scenes=scenes))
    assert hand_over(memory_records, memory_storage, "kid", "mum") == Left(cards=1, stories=1)
    passed = memory_records.stories.get("s1")
    assert (passed.owner, passed.card_id, passed.scenes) == ("mum", None, scenes)
    assert hand_over(memory_records, memory_storage, "ben", None) == Left(stories=1)
    with pytest.raises(NotFound):
        memory_records.stories.get("s2")
