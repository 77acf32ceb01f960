"""services.access: the one get-or-404 and ownership rule the use cases share, on the memory ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.audio.transcode import PyAVTranscoder
from adapters.memory import MemoryRecords, MemoryStorage
from core.errors import Forbidden, NotFound
from core.records import AudioItem, Card, User, utcnow
from services import access, card_content, library, uploads
from services.ingest import IngestLimits, IngestPorts

KID = User("kid")
MUM = User("mum", is_admin=True)
SIS = User("sis")


def _card(records: MemoryRecords, owner: str) -> Card:
    now = utcnow()
    card = Card(id="c1", owner=owner, title="Songs", audio_ids=("a1",), created_at=now, updated_at=now)
    records.cards.add(card)
    return card


def test_a_missing_record_says_what_and_which(memory_records: MemoryRecords) -> None:
    with pytest.raises(NotFound, match=r"^no card nope$"):
        access.found(memory_records.cards.get, "card", "nope")


def test_another_members_record_reads_as_missing_but_not_to_an_admin(memory_records: MemoryRecords) -> None:
    card = _card(memory_records, "kid")
    assert card_content.get_card(memory_records.cards, KID, "c1") == card
    assert card_content.get_card(memory_records.cards, MUM, "c1") == card
    with pytest.raises(NotFound, match=r"^no card c1$"):
        card_content.get_card(memory_records.cards, SIS, "c1")


def test_only_the_owner_or_an_admin_may_change_and_every_kind_says_it_alike() -> None:
    access.may_change(KID, "kid", "card")
    access.may_change(MUM, "kid", "card")
    for what in ("card", "playlist", "item", "podcast", "routine"):
        with pytest.raises(Forbidden, match=rf"^only the owner or an admin may change this {what}$"):
            access.may_change(SIS, "kid", what)


def test_a_family_wide_item_may_be_read_by_all_but_changed_by_its_owner_or_an_admin(
    memory_records: MemoryRecords,
) -> None:
    item = AudioItem(
        id="a1",
        owner="kid",
        title="Tone",
        storage_key="audio/a1.mp3",
        size_bytes=1,
        duration_s=1.0,
        format="mp3",
        source="upload",
        created_at=utcnow(),
    )
    memory_records.audio.add(item)
    assert library.get_item(memory_records.audio, "a1") == item
    with pytest.raises(Forbidden, match=r"^only the owner or an admin may change this item$"):
        library.rename(memory_records.audio, SIS, "a1", "Mine now")
    assert library.rename(memory_records.audio, MUM, "a1", "Tidied").title == "Tidied"
    with pytest.raises(NotFound, match=r"^no audio item gone$"):
        library.get_item(memory_records.audio, "gone")


def test_completing_or_cancelling_someone_elses_upload_reads_as_unknown_and_keeps_it(
    memory_records: MemoryRecords, memory_storage: MemoryStorage, tmp_path: Path
) -> None:
    limits = IngestLimits(max_duration_s=600, quota_bytes=10**7, bitrate=128_000, max_transcodes=1, wait_s=5)
    ingest = IngestPorts(memory_records.audio, memory_storage, limits, PyAVTranscoder(), tmp_path)
    ports = uploads.UploadPorts(memory_records.uploads, memory_records.counters, ingest, max_bytes=10**6, ttl_s=600)
    started = uploads.start(ports, KID, size_bytes=10)
    for call in (
        lambda: uploads.complete(ports, SIS, started.upload_id, title=None),
        lambda: uploads.cancel(ports, SIS, started.upload_id),
    ):
        with pytest.raises(NotFound, match="unknown or expired"):
            call()
    assert uploads.pending_of(memory_records.uploads, started.upload_id, KID).owner == "kid"
    uploads.cancel(ports, KID, started.upload_id)
    with pytest.raises(NotFound):
        uploads.pending_of(memory_records.uploads, started.upload_id, KID)
