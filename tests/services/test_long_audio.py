"""`services.long_audio.cut_quietly` with the real PyAV transcoder: audio over the track
limit is cut in its pause, each part under the limit, at MP3 frame boundaries with no
frame lost. Scaled down (a 60 s limit, 70 s of sound with a pause at 53 s); the same
rule at Yoto's hour is `tests/services/test_card_limits.py` on levels alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.audio.transcode import PyAVTranscoder, probe
from services.long_audio import cut_quietly
from tests.audio_fixtures import write_with_pause


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    transcoder = PyAVTranscoder(loudness=False)
    src = write_with_pause(tmp_path / "long.wav", 70.0, pause_at=53.0)
    dst = tmp_path / "long.mp3"
    transcoder.normalize(src, dst, max_duration_s=3600, bitrate=64_000)
    return dst


def test_audio_over_the_limit_is_cut_in_its_pause(stored: Path, tmp_path: Path) -> None:
    transcoder = PyAVTranscoder()
    whole = probe(stored).duration_s
    parts = cut_quietly(transcoder, stored, tmp_path, whole, limit_s=60.0)
    assert len(parts) == 2
    first, second = (probe(p).duration_s for p in parts)
    assert first == pytest.approx(53.5, abs=0.6), first  # the middle of the pause, not 50 or 55
    assert first < 60 and second < 60
    assert first + second == pytest.approx(whole, abs=0.03)  # no frame lost or doubled
    assert sum(p.stat().st_size for p in parts) == stored.stat().st_size


def test_audio_that_fits_is_left_whole(stored: Path, tmp_path: Path) -> None:
    assert cut_quietly(PyAVTranscoder(), stored, tmp_path, probe(stored).duration_s, limit_s=120.0) == [stored]


def test_levels_find_the_silence(stored: Path) -> None:
    levels = PyAVTranscoder().levels(stored, 0.5)
    assert len(levels) == pytest.approx(140, abs=2)
    quietest = min(range(len(levels)), key=levels.__getitem__)
    assert 53.0 <= quietest * 0.5 <= 54.0 and levels[quietest] < -60 < max(levels)
