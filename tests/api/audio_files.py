"""Audio inputs for the API tests, generated once per test session (into the `audio_dir` fixture) with the
audio engineer's helpers (PyAV tones, espeak-ng speech, broken files)."""

from __future__ import annotations

from pathlib import Path

from tests.audio_fixtures import FORMATS, corrupt, text_file, truncate, write_tone

TONE_SECONDS = 1.5


def tone(audio_dir: Path, fmt: str, *, seconds: float = TONE_SECONDS) -> Path:
    spec = FORMATS[fmt]
    path = audio_dir / f"tone-{fmt}-{seconds}{spec.suffix}"
    if not path.exists():
        write_tone(path, fmt, seconds=seconds, channels=2)
    return path


def not_audio(audio_dir: Path) -> Path:
    path = audio_dir / "notes.mp3"  # the name lies; the content decides
    return path if path.exists() else text_file(path)


def damaged(audio_dir: Path, fmt: str) -> Path:
    path = audio_dir / f"damaged{FORMATS[fmt].suffix}"
    return path if path.exists() else corrupt(tone(audio_dir, fmt), path, header_bytes=64)


def cut_short(audio_dir: Path, fmt: str) -> Path:
    path = audio_dir / f"cut{FORMATS[fmt].suffix}"
    return path if path.exists() else truncate(tone(audio_dir, fmt), path, keep=0.02)
