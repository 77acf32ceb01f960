"""Service tests run on the in-memory records and storage (milliseconds a
test); the contract suites prove those fakes behave like the real sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.memory import MemoryRecords, MemoryStorage
from services.ingest import IngestLimits
from services.library import LibraryPorts
from tests.audio_fixtures import write_tone
from tests.services.fakes import FakeIdentity, FakeTTS
from tests.services.memory_root import linked_admin_root
from tests.yoto_inprocess import InProcessCloud
from wiring import Root


@pytest.fixture
def identity() -> FakeIdentity:
    fake = FakeIdentity()
    fake.create_user("mum", "correct horse battery staple", is_admin=True)
    fake.create_user("kid", "purple monkey dishwasher")
    return fake


@pytest.fixture
def ports(memory_records: MemoryRecords, memory_storage: MemoryStorage) -> LibraryPorts:
    r = memory_records
    return LibraryPorts(r.audio, r.playlists, r.cards, memory_storage)


@pytest.fixture
def limits() -> IngestLimits:
    return IngestLimits(max_duration_s=600, quota_bytes=10 * 1024 * 1024, bitrate=128_000, max_transcodes=1, wait_s=5)


@pytest.fixture(scope="session")
def tone_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone(tmp_path_factory.mktemp("tone") / "tone.mp3", "mp3", seconds=1.0)


@pytest.fixture
def fake_tts(tone_mp3: Path) -> FakeTTS:
    return FakeTTS(tone_mp3)


@pytest.fixture
def cloud() -> InProcessCloud:
    """The in-process Yoto cloud; an upload's transcode takes 2 s of its manual clock."""
    cloud = InProcessCloud()
    cloud.configure(transcode_delay_s=2.0)
    return cloud


@pytest.fixture
def root(cloud: InProcessCloud, tmp_path: Path) -> Root:
    """The composition root on the memory adapters, mum an admin linked to `cloud`."""
    return linked_admin_root(cloud, tmp_path)
