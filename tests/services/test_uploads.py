"""Two-step uploads on the memory records and storage: a signed target, then complete once."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.audio.transcode import PyAVTranscoder
from adapters.memory import MemoryRecords, MemoryStorage
from core.errors import Conflict, NotFound, TooLarge, Unsupported
from core.records import User
from services import uploads
from services.ingest import IngestLimits, IngestPorts

MUM, KID = User("mum", is_admin=True), User("kid")
CAP = 1024 * 1024


@pytest.fixture
def ports(
    memory_records: MemoryRecords, memory_storage: MemoryStorage, limits: IngestLimits, tmp_path: Path
) -> uploads.UploadPorts:
    ingest = IngestPorts(memory_records.audio, memory_storage, limits, PyAVTranscoder(), tmp_path)
    return uploads.UploadPorts(memory_records.uploads, memory_records.counters, ingest, max_bytes=CAP, ttl_s=600)


def _sent(ports: uploads.UploadPorts, user: User, data: bytes, **kw: str) -> uploads.Started:
    started = uploads.start(ports, user, size_bytes=len(data), **kw)
    pending = uploads.pending_of(ports.uploads, started.upload_id, user)
    ports.ingest.storage.put_bytes(pending.storage_key, data, "audio/mpeg")
    return started


def test_an_upload_completes_into_one_item_and_leaves_no_staged_bytes(
    ports: uploads.UploadPorts, tone_mp3: Path
) -> None:
    started = _sent(ports, KID, tone_mp3.read_bytes(), filename="bedtime-story.mp3")
    assert started.target.url
    pending = uploads.pending_of(ports.uploads, started.upload_id, KID)
    item = uploads.complete(ports, KID, started.upload_id, title=None)
    assert item.owner == "kid" and item.title and ports.ingest.audio.get(item.id) == item
    with pytest.raises(NotFound):
        ports.ingest.storage.head(pending.storage_key)
    with pytest.raises(NotFound):
        uploads.pending_of(ports.uploads, started.upload_id, KID)


def test_someone_elses_upload_reads_as_unknown(ports: uploads.UploadPorts, tone_mp3: Path) -> None:
    started = _sent(ports, KID, tone_mp3.read_bytes())
    with pytest.raises(NotFound, match="unknown or expired"):
        uploads.pending_of(ports.uploads, started.upload_id, MUM)


def test_nothing_sent_yet_is_a_conflict_and_a_second_complete_while_one_runs_too(
    ports: uploads.UploadPorts, tone_mp3: Path
) -> None:
    started = uploads.start(ports, KID, size_bytes=10)
    pending = uploads.pending_of(ports.uploads, started.upload_id, KID)
    with pytest.raises(Conflict, match="no bytes"):
        uploads.complete(ports, KID, started.upload_id, title="x")
    ports.counters.add(f"upload-complete:{pending.id}", 1, ttl_s=60)  # another container is completing it
    ports.ingest.storage.put_bytes(pending.storage_key, tone_mp3.read_bytes(), "audio/mpeg")
    with pytest.raises(Conflict, match="already being completed"):
        uploads.complete(ports, KID, started.upload_id, title="x")


def test_a_declared_size_over_the_cap_is_refused_before_any_target(ports: uploads.UploadPorts) -> None:
    with pytest.raises(TooLarge):
        uploads.start(ports, KID, size_bytes=CAP + 1)
    assert not ports.ingest.audio.list(owner="kid", limit=5).items


def test_bytes_over_the_cap_or_not_audio_are_refused_at_complete_and_cleaned_up(ports: uploads.UploadPorts) -> None:
    for data, error in ((b"\0" * (CAP + 1), TooLarge), (b"not audio at all " * 100, Unsupported)):
        started = uploads.start(ports, KID)
        pending = uploads.pending_of(ports.uploads, started.upload_id, KID)
        ports.ingest.storage.put_bytes(pending.storage_key, data, "audio/mpeg")
        with pytest.raises(error):
            uploads.complete(ports, KID, started.upload_id, title="x")
        with pytest.raises(NotFound):
            ports.ingest.storage.head(pending.storage_key)
        with pytest.raises(NotFound):
            uploads.pending_of(ports.uploads, started.upload_id, KID)
