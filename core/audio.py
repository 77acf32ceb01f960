"""The stored audio layout and what a transcoder answers (docs/audio.md):
every item is CBR MP3, 44.1 kHz stereo, with no tag and no Info frame, so
items join into one stream. The errors say what the API answers: 415 for
`UnsupportedAudio`, 422 (with `reason`) for `UnreadableAudio`."""

from __future__ import annotations

from dataclasses import dataclass

TARGET_RATE = 44100
TARGET_LAYOUT = "stereo"
TARGET_CHANNELS = 2
TARGET_BITRATE = 128_000
MP3_FRAME_SAMPLES = 1152
DEFAULT_MAX_DURATION_S = 6 * 3600.0


class AudioError(Exception):
    """Base class; `reason` is a sentence a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedAudio(AudioError):
    """The bytes are not an audio format we accept."""


class UnreadableAudio(AudioError):
    """The bytes look like audio but cannot be decoded in full."""


class AudioTooLong(UnreadableAudio):
    """Decoding would exceed the duration cap (a decompression bomb, or just too long)."""


@dataclass(frozen=True)
class AudioFacts:
    duration_s: float
    size_bytes: int
    sample_rate: int
    channels: int
    bitrate: int
    format: str = "mp3"
    source_format: str | None = None
    # Loudness normalisation (docs/audio.md), None where it did not run or had
    # nothing to measure: the input's integrated loudness, the output's, the
    # output's sample peak and the gain applied.
    loudness_in_lufs: float | None = None
    loudness_lufs: float | None = None
    peak_dbfs: float | None = None
    gain_db: float | None = None
