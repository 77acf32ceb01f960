"""Ingest with its quota, and TTS with its daily characters, on the in-memory ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.audio.transcode import PyAVTranscoder
from adapters.memory import MemoryRecords
from core.errors import BackendUnavailable, Invalid, RateLimited, TooLarge, Unsupported
from core.records import User
from services import tts
from services.ingest import IngestLimits, IngestPorts, ingest
from services.library import LibraryPorts
from tests.services.fakes import FakeTTS

KID = User("kid")
TTS_LIMITS = tts.TtsLimits(max_chars=50, daily_chars=80)


def _ingest_ports(ports: LibraryPorts, limits: IngestLimits, scratch: Path) -> IngestPorts:
    return IngestPorts(ports.audio, ports.storage, limits, PyAVTranscoder(), scratch)


def test_ingest_normalises_and_records(
    ports: LibraryPorts, limits: IngestLimits, tone_mp3: Path, tmp_path: Path
) -> None:
    src = tmp_path / "in.mp3"
    src.write_bytes(tone_mp3.read_bytes())
    item = ingest(_ingest_ports(ports, limits, tmp_path), src, owner="kid", title="Tone")
    assert ports.audio.get(item.id) == item
    assert ports.storage.head(item.storage_key).size == item.size_bytes
    assert 0.9 < item.duration_s < 1.2


def test_not_audio_is_unsupported(ports: LibraryPorts, limits: IngestLimits, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("hello " * 100)
    with pytest.raises(Unsupported):
        ingest(_ingest_ports(ports, limits, tmp_path), src, owner="kid", title="x")
    assert ports.audio.list().items == []


def test_over_the_quota_is_too_large_and_keeps_nothing(
    ports: LibraryPorts, limits: IngestLimits, tone_mp3: Path, tmp_path: Path
) -> None:
    src = tmp_path / "in.mp3"
    src.write_bytes(tone_mp3.read_bytes())
    tiny = IngestLimits(**{**limits.__dict__, "quota_bytes": 1000})
    with pytest.raises(TooLarge) as caught:
        ingest(_ingest_ports(ports, tiny, tmp_path), src, owner="kid", title="x")
    assert caught.value.extra["quota_left_bytes"] == 1000
    assert ports.audio.list().items == [] and ports.storage.keys() == []  # type: ignore[attr-defined]


def _speak(
    memory_records: MemoryRecords, ports: LibraryPorts, limits: IngestLimits, fake: FakeTTS, text: str, scratch: Path
):
    return tts.speak(
        tts.TtsPorts(fake, memory_records.counters, TTS_LIMITS, _ingest_ports(ports, limits, scratch)),
        KID,
        text=text,
        title="Hi",
    )


def test_tts_charges_and_refunds(
    memory_records: MemoryRecords, ports: LibraryPorts, limits: IngestLimits, fake_tts: FakeTTS, tmp_path: Path
) -> None:
    _speak(memory_records, ports, limits, fake_tts, "a" * 40, tmp_path)
    assert tts.remaining_today(memory_records.counters, TTS_LIMITS, "kid") == 40
    with pytest.raises(RateLimited) as over:
        _speak(memory_records, ports, limits, fake_tts, "b" * 45, tmp_path)
    assert over.value.headers["X-TTS-Remaining"] == "40" and "Retry-After" in over.value.headers
    with pytest.raises(RateLimited) as cap:
        _speak(memory_records, ports, limits, fake_tts, "c" * 51, tmp_path)
    assert "Retry-After" not in cap.value.headers  # split it; waiting does not help
    fake_tts.fail = BackendUnavailable("offline")
    with pytest.raises(BackendUnavailable, match="unavailable"):
        _speak(memory_records, ports, limits, fake_tts, "d" * 10, tmp_path)
    assert tts.remaining_today(memory_records.counters, TTS_LIMITS, "kid") == 40  # refunded
    with pytest.raises(Invalid):
        _speak(memory_records, ports, limits, fake_tts, "   ", tmp_path)
    assert fake_tts.spoken == ["a" * 40]


def test_an_item_keeps_its_listening_level(ports: LibraryPorts, limits: IngestLimits, tmp_path: Path) -> None:
    import array
    import wave

    from tests.audio_fixtures import _pcm

    def tone(name: str, scale: float) -> Path:
        samples = array.array("h", _pcm(8000 * 3, 8000, 1, 330.0, 0))
        quiet = array.array("h", (int(s * scale) for s in samples))
        path = tmp_path / name
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(quiet.tobytes())
        return path

    ingest_ports = _ingest_ports(ports, limits, tmp_path)
    loud = ingest(ingest_ports, tone("loud.wav", 1.0), owner="kid", title="Loud")
    quiet = ingest(ingest_ports, tone("quiet.wav", 0.05), owner="kid", title="Quiet")
    assert loud.loudness_in_lufs is not None and quiet.loudness_in_lufs is not None
    assert loud.loudness_in_lufs - quiet.loudness_in_lufs > 20  # they came in 26 dB apart
    assert loud.loudness_lufs is not None and quiet.loudness_lufs is not None
    assert abs(loud.loudness_lufs - quiet.loudness_lufs) <= 1.0  # and end within 1 LU of each other
    assert abs(loud.loudness_lufs + 16) <= 1.0 and quiet.gain_db is not None and quiet.gain_db > 15
    assert ports.audio.get(quiet.id).loudness_lufs == quiet.loudness_lufs
