"""The family rules: the last admin stays, lost access is lost at once, a
deleted member's items pass on with fresh stream keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory import MemoryRecords, MemoryStorage
from core.errors import Conflict, Forbidden, Invalid
from core.records import AudioItem, Session, new_id, utcnow
from services import users
from services.library import LibraryPorts
from tests.services.fakes import FakeIdentity


@pytest.fixture
def family(identity: FakeIdentity, memory_records: MemoryRecords, memory_storage: MemoryStorage) -> users.Family:
    return users.Family(identity, memory_records, memory_storage)


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
def test_the_last_admin_cannot_step_down(family: users.Family, change: dict) -> None:
    with pytest.raises(Conflict, match="last admin"):
        users.update_user(family, "mum", **change)
    users.update_user(family, "kid", is_admin=True)
    users.update_user(family, "mum", **change)


def test_a_new_password_ends_every_session(family: users.Family, memory_records: MemoryRecords) -> None:
    kid, mum = _session(memory_records, "kid"), _session(memory_records, "mum")
    users.update_user(family, "kid", password="a fresh passphrase")
    assert memory_records.sessions.get(mum.id) == mum
    with pytest.raises(Exception):  # noqa: B017 - NotFound: revoked
        memory_records.sessions.get(kid.id)


def test_a_refused_password_changes_nothing(family: users.Family, memory_records: MemoryRecords) -> None:
    kid = _session(memory_records, "kid")
    with pytest.raises(Invalid, match="12"):
        users.update_user(family, "kid", password="short")
    assert memory_records.sessions.get(kid.id) == kid


def test_changing_your_own_password_needs_the_old_one(identity: FakeIdentity, family: users.Family) -> None:
    kid = identity.get_user("kid")
    with pytest.raises(Forbidden):
        users.change_own_password(family, kid, current_password="nope", new_password="x" * 12)
    users.change_own_password(family, kid, current_password="purple monkey dishwasher", new_password="y" * 12)
    assert identity.authenticate("kid", "y" * 12) is not None


def test_deleting_a_member_passes_their_items_on_with_new_keys(
    identity: FakeIdentity, family: users.Family, ports: LibraryPorts
) -> None:
    mine, theirs = _item(ports, "mum"), _item(ports, "kid")
    mum = identity.get_user("mum")
    assert users.delete_user(family, "kid", by=mum) == 1
    moved = ports.audio.get(theirs.id)
    assert moved.owner == "mum" and moved.stream_key != theirs.stream_key
    assert ports.audio.get(mine.id) == mine


def test_deleting_a_member_can_delete_their_items(
    identity: FakeIdentity, family: users.Family, ports: LibraryPorts
) -> None:
    theirs = _item(ports, "kid")
    mum = identity.get_user("mum")
    assert users.delete_user(family, "kid", by=mum, items="delete") == 1
    assert ports.audio.list().items == []
    stored = ports.storage.keys()  # type: ignore[attr-defined]
    assert theirs.storage_key not in stored


def test_an_admin_deleting_themselves_leaves_items_to_another_admin(
    identity: FakeIdentity, family: users.Family, ports: LibraryPorts
) -> None:
    users.update_user(family, "kid", is_admin=True)
    item = _item(ports, "mum")
    users.delete_user(family, "mum", by=identity.get_user("mum"))
    assert ports.audio.get(item.id).owner == "kid"


# --------------------------------------------------------------------------- member ids


def test_a_reused_name_is_a_new_member_id_and_inherits_nothing(
    identity: FakeIdentity, family: users.Family, memory_records: MemoryRecords, ports: LibraryPorts
) -> None:
    first = users.create_user(family, "Ben", "a long enough password")
    assert first.owner_id == "ben"  # the first member of a name: the name itself
    _item(ports, "ben")
    users.delete_user(family, "ben", by=identity.get_user("mum"), items="delete")
    assert memory_records.settings.get("member:ben") == {"id": "ben", "generation": 1, "deleted": True}
    second = users.create_user(family, "ben", "a long enough password")
    assert second.owner_id == "ben~2"
    users.delete_user(family, "ben", by=identity.get_user("mum"))
    assert users.create_user(family, "ben", "a long enough password").owner_id == "ben~3"
    assert family.members.id_of("ben") == "ben~3"


def test_a_member_made_before_member_records_keeps_the_name_as_id(family: users.Family) -> None:
    assert family.members.id_of("kid") == "kid"  # the fixture made kid on the identity side only


def test_records_left_under_a_name_make_its_next_member_generation_two(
    identity: FakeIdentity, family: users.Family, memory_records: MemoryRecords
) -> None:
    """A member deleted before generations were kept left a routine (and a Yoto link) behind."""
    from core.records import Routine, YotoTokens

    memory_records.routines.add(Routine(id=new_id(), owner="gran", name="r", player_id="p", at="19:00"))
    memory_records.tokens.create(YotoTokens("gran", "a", "r", utcnow()))
    assert users.create_user(family, "gran", "a long enough password").owner_id == "gran~2"
    assert memory_records.tokens.list_accounts() == []  # the dead member's link went with them


def test_disabling_a_member_forgets_their_yoto_link(family: users.Family, memory_records: MemoryRecords) -> None:
    from core.records import YotoTokens

    memory_records.tokens.create(YotoTokens("kid", "a", "r", utcnow()))
    memory_records.settings.put("yoto-devices:kid", {"at": utcnow().isoformat(), "devices": []})
    users.update_user(family, "kid", disabled=True)
    assert memory_records.tokens.list_accounts() == []
    assert memory_records.settings.list_keys() == []
