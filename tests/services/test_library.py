"""Library rules on the in-memory ports."""

from __future__ import annotations

import pytest

from core.errors import Conflict, Forbidden, Invalid, InvalidCursor
from core.records import AudioItem, Playlist, User, new_id
from services import library, streams
from services.library import LibraryPorts

MUM, KID = User("mum", is_admin=True), User("kid")


def _item(ports: LibraryPorts, owner: str = "kid") -> AudioItem:
    item_id = new_id()
    info = ports.storage.put_bytes(f"audio/{item_id}.mp3", b"\xff\xfb" * 100, "audio/mpeg")
    item = AudioItem(id=item_id, owner=owner, title="t", storage_key=info.key, size_bytes=info.size, duration_s=1)
    ports.audio.add(item)
    return item


def test_only_owner_or_admin_changes_an_item(ports: LibraryPorts) -> None:
    item = _item(ports, "mum")
    with pytest.raises(Forbidden):
        library.rename(ports.audio, KID, item.id, "mine")
    with pytest.raises(Invalid):
        library.rename(ports.audio, MUM, item.id, "   ")
    assert library.rename(ports.audio, MUM, item.id, "  Bedtime ").title == "Bedtime"


def test_an_item_in_use_is_kept_unless_forced(ports: LibraryPorts) -> None:
    item = _item(ports)
    ports.playlists.add(Playlist(id="p1", owner="kid", name="night", audio_ids=(item.id,)))
    with pytest.raises(Conflict) as caught:
        library.delete(ports, KID, item.id)
    assert caught.value.extra == {"playlists": ["p1"], "cards": []}
    library.delete(ports, KID, item.id, force=True)
    assert ports.audio.list().items == []


@pytest.mark.parametrize("cursor", ["%%%", "W1tbW1tbW1tbW1tb", "eyJhIjogMX0"])
def test_a_cursor_we_did_not_hand_out_is_invalid(ports: LibraryPorts, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        library.list_items(ports.audio, owner=None, query=None, limit=10, cursor=cursor)


def test_rotating_revokes_the_old_url(ports: LibraryPorts) -> None:
    item = _item(ports)
    key = b"k" * 32
    old = library.stream_url(ports.audio, key, "https://x", item.id)
    new = library.rotate_stream_url(ports.audio, key, "https://x", KID, item.id)
    assert old != new
    token = old.rsplit("/", 1)[1].removesuffix(".mp3")
    with pytest.raises(Forbidden):
        streams.resolve(ports.audio, ports.storage, key, token, url_ttl_s=60)
    fresh = new.rsplit("/", 1)[1].removesuffix(".mp3")
    assert streams.resolve(ports.audio, ports.storage, key, fresh, url_ttl_s=60).url


def test_storage_use(ports: LibraryPorts) -> None:
    a, b = _item(ports), _item(ports)
    use = library.storage_use(ports.audio, "kid", 1000)
    assert (use.items, use.used_bytes, use.left_bytes) == (2, a.size_bytes + b.size_bytes, 1000 - 400)
