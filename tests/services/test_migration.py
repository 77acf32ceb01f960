"""`services.migration.run.migrate` in the unit tier: two sides on the memory adapters.
A dry run counts and touches nothing; a run copies users, records and audio bytes and
verifies them; a second run is a no-op; a damaged object on the target is found and,
with repair, copied again. (tests/migration/ runs the real CLI between SQLite and moto.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.hashing import Argon2Hasher
from adapters.memory import MemoryRecords, MemoryStorage
from core.records import AudioItem, Playlist, new_id
from services.migration.run import Options, Side, migrate
from tests.services.fakes import FakeIdentity


def _bytes(side: Side, key: str) -> bytes:
    return side.storage.read_range(key, 0, side.storage.head(key).size - 1)


def _side(label: str) -> Side:
    return Side(records=MemoryRecords(), storage=MemoryStorage(), identity=FakeIdentity(), label=label)


def _item(side: Side, owner: str, title: str, data: bytes) -> AudioItem:
    item_id = new_id()
    key = f"audio/{item_id}.mp3"
    info = side.storage.put_bytes(key, data, "audio/mpeg")
    item = AudioItem(
        id=item_id,
        owner=owner,
        title=title,
        storage_key=key,
        size_bytes=info.size,
        duration_s=2.0,
        created_at=datetime.now(UTC),
    )
    side.records.audio.add(item)
    return item


@pytest.fixture
def source() -> Side:
    side = _side("aws")
    side.identity.create_user("mum", "correct horse battery staple", is_admin=True)
    side.identity.create_user("kid", "purple monkey dishwasher")
    owl = _item(side, "mum", "Owl", b"\xff\xfb" + b"owl" * 400)
    moon = _item(side, "kid", "Moon", b"\xff\xfb" + b"moon" * 300)
    side.records.playlists.add(Playlist(id=new_id(), owner="mum", name="Bedtime", audio_ids=(owl.id, moon.id)))
    return side


def test_a_dry_run_counts_what_it_would_copy_and_touches_nothing(source: Side) -> None:
    target = _side("local")
    report = migrate(source, target, None, Options("to-local", dry_run=True))
    assert report.dry_run and report.tally("audio objects").copied == 2
    assert report.tally("audio objects").pending_bytes == 2 + 1200 + 2 + 1200
    assert report.tally("users").copied == 2
    assert target.records.audio.list(owner=None, limit=10).items == []
    assert target.identity.users == {}


def test_a_run_copies_and_verifies_and_a_second_run_is_a_no_op(source: Side) -> None:
    target = _side("local")
    report = migrate(source, target, Argon2Hasher(), Options("to-local"))
    assert report.ok, report.summary()
    assert all(check.ok for check in report.checks) and report.checks
    copied = {i.title: i for i in target.records.audio.list(owner=None, limit=10).items}
    assert set(copied) == {"Owl", "Moon"}
    assert _bytes(target, copied["Owl"].storage_key) == b"\xff\xfb" + b"owl" * 400
    assert [p.name for p in target.records.playlists.list(owner="mum", limit=5).items] == ["Bedtime"]
    assert set(target.identity.users) == {"mum", "kid"} and target.identity.users["mum"].is_admin
    assert set(report.reset_codes) == {"mum", "kid"}  # to-local: each member signs in with a one-time code
    again = migrate(source, target, Argon2Hasher(), Options("to-local"))
    assert again.ok and again.copied == 0 and again.there == report.copied


def test_a_damaged_object_on_the_target_is_found_then_repaired(source: Side) -> None:
    target = _side("local")
    assert migrate(source, target, Argon2Hasher(), Options("to-local")).ok
    owl = next(i for i in target.records.audio.list(owner=None, limit=10).items if i.title == "Owl")
    target.storage.put_bytes(owl.storage_key, b"\xff\xfb" + b"OWL" * 400, "audio/mpeg")
    found = migrate(source, target, Argon2Hasher(), Options("to-local"))
    assert not found.ok and any(owl.storage_key in d for d in found.differences), found.differences
    fixed = migrate(source, target, Argon2Hasher(), Options("to-local", repair=True))
    assert any(owl.storage_key in r for r in fixed.repaired), fixed.summary()
    assert _bytes(target, owl.storage_key) == b"\xff\xfb" + b"owl" * 400
