"""The family rules: the last admin stays, lost access is lost at once, a
deleted member's items pass on with fresh stream keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory import MemoryRecords
from core.errors import Conflict, Forbidden, Invalid
from core.records import AudioItem, Session, new_id, utcnow
from services import users
from services.library import LibraryPorts
from tests.services.fakes import FakeIdentity


def _session(records: MemoryRecords, username: str) -> Session:
    now = utcnow()
    session = Session(id=new_id(), username=username, created_at=now, expires_at=now + timedelta(hours=1))
    records.sessions.add(session)
    return session


def _item(ports: LibraryPorts, owner: str) -> AudioItem:
    item_id = new_id()
    info = ports.storage.put_bytes(f"audio/{item_id}.mp3", b"\xff\xfb" * 100, "audio/mpeg")
    item = AudioItem(id=item_id, owner=owner, title="t", storage_key=info.key, size_bytes=info.size, duration_s=1)
    ports.audio.add(item)
    return item


@pytest.mark.parametrize("change", [{"is_admin": False}, {"disabled": True}])
def test_the_last_admin_cannot_step_down(identity: FakeIdentity, memory_records: MemoryRecords, change: dict) -> None:
    with pytest.raises(Conflict, match="last admin"):
        users.update_user(identity, memory_records.sessions, "mum", **change)
    users.update_user(identity, memory_records.sessions, "kid", is_admin=True)
    users.update_user(identity, memory_records.sessions, "mum", **change)


def test_a_new_password_ends_every_session(identity: FakeIdentity, memory_records: MemoryRecords) -> None:
    kid, mum = _session(memory_records, "kid"), _session(memory_records, "mum")
    users.update_user(identity, memory_records.sessions, "kid", password="a fresh passphrase")
    assert memory_records.sessions.get(mum.id) == mum
    with pytest.raises(Exception):  # noqa: B017 - NotFound: revoked
        memory_records.sessions.get(kid.id)


def test_a_refused_password_changes_nothing(identity: FakeIdentity, memory_records: MemoryRecords) -> None:
    kid = _session(memory_records, "kid")
    with pytest.raises(Invalid, match="12"):
        users.update_user(identity, memory_records.sessions, "kid", password="short")
    assert memory_records.sessions.get(kid.id) == kid


def test_changing_your_own_password_needs_the_old_one(identity: FakeIdentity, memory_records: MemoryRecords) -> None:
    kid = identity.get_user("kid")
    with pytest.raises(Forbidden):
        users.change_own_password(
            identity, memory_records.sessions, kid, current_password="nope", new_password="x" * 12
        )
    users.change_own_password(
        identity, memory_records.sessions, kid, current_password="purple monkey dishwasher", new_password="y" * 12
    )
    assert identity.authenticate("kid", "y" * 12) is not None


def test_deleting_a_member_passes_their_items_on_with_new_keys(
    identity: FakeIdentity, memory_records: MemoryRecords, ports: LibraryPorts
) -> None:
    mine, theirs = _item(ports, "mum"), _item(ports, "kid")
    mum = identity.get_user("mum")
    assert users.delete_user(identity, memory_records.sessions, ports, "kid", by=mum) == 1
    moved = ports.audio.get(theirs.id)
    assert moved.owner == "mum" and moved.stream_key != theirs.stream_key
    assert ports.audio.get(mine.id) == mine


def test_deleting_a_member_can_delete_their_items(
    identity: FakeIdentity, memory_records: MemoryRecords, ports: LibraryPorts
) -> None:
    theirs = _item(ports, "kid")
    mum = identity.get_user("mum")
    assert users.delete_user(identity, memory_records.sessions, ports, "kid", by=mum, items="delete") == 1
    assert ports.audio.list().items == []
    stored = ports.storage.keys()  # type: ignore[attr-defined]
    assert theirs.storage_key not in stored


def test_an_admin_deleting_themselves_leaves_items_to_another_admin(
    identity: FakeIdentity, memory_records: MemoryRecords, ports: LibraryPorts
) -> None:
    users.update_user(identity, memory_records.sessions, "kid", is_admin=True)
    item = _item(ports, "mum")
    users.delete_user(identity, memory_records.sessions, ports, "mum", by=identity.get_user("mum"))
    assert ports.audio.get(item.id).owner == "kid"
