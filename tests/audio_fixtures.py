"""Test audio made on the spot: tones encoded with PyAV, speech from espeak-ng,
and deliberately broken files.

Nothing binary is committed; every test builds the inputs it needs, so the
suite shows exactly what each format looked like when it passed. PCM is built
with the standard library (`array`, `math`) because numpy is not a dependency.
"""

from __future__ import annotations

import array
import functools
import math
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ToneFormat:
    """How one accepted input format is produced with PyAV."""

    name: str  # what `sniff` should answer
    suffix: str
    container: str
    codec: str
    sample_format: str
    rate: int
    options: dict[str, str] | None = None
    channels: int | None = None  # the encoder only takes this many


FORMATS: dict[str, ToneFormat] = {
    "mp3": ToneFormat("mp3", ".mp3", "mp3", "libmp3lame", "s16p", 44100),
    "m4a": ToneFormat("m4a", ".m4a", "ipod", "aac", "fltp", 48000),
    "aac": ToneFormat("aac", ".aac", "adts", "aac", "fltp", 32000),
    "wav": ToneFormat("wav", ".wav", "wav", "pcm_s16le", "s16", 22050),
    "flac": ToneFormat("flac", ".flac", "flac", "flac", "s16", 96000),
    # FFmpeg's own Vorbis encoder is "experimental" and stereo only.
    "ogg-vorbis": ToneFormat("ogg", ".ogg", "ogg", "vorbis", "fltp", 44100, {"strict": "-2"}, channels=2),
    "ogg-opus": ToneFormat("ogg", ".opus", "ogg", "libopus", "s16", 48000),
}


@functools.lru_cache(maxsize=16)
def _second_of_sine(rate: int, channels: int, freq: float) -> bytes:
    """One second of interleaved signed 16-bit sine at -6 dBFS. With a whole
    number of cycles per second, repeating it makes a seamless longer tone."""
    data = array.array("h")
    step = 2 * math.pi * freq / rate
    for i in range(rate):
        data.extend([int(16383 * math.sin(step * i))] * channels)
    return data.tobytes()


def _pcm(samples: int, rate: int, channels: int, freq: float, start: int) -> bytes:
    second = _second_of_sine(rate, channels, freq)
    width = 2 * channels
    offset = (start % rate) * width
    need = samples * width
    reps = (offset + need) // len(second) + 1
    return (second * reps)[offset : offset + need]


def write_tone(
    path: Path,
    fmt: str | ToneFormat,
    *,
    seconds: float = 1.0,
    channels: int = 1,
    freq: float = 440.0,
    rate: int | None = None,
) -> Path:
    """Encode a sine tone of `seconds` into `path` in the given format."""
    import av

    spec = FORMATS[fmt] if isinstance(fmt, str) else fmt
    rate = rate or spec.rate
    channels = spec.channels or channels
    layout = "mono" if channels == 1 else "stereo"
    total = round(seconds * rate)
    with av.open(str(path), "w", format=spec.container) as out:
        stream = out.add_stream(spec.codec, rate=rate, layout=layout, options=spec.options or {})
        if spec.codec != "pcm_s16le" and spec.codec != "flac":
            stream.bit_rate = 96000
        resampler = av.AudioResampler(format=spec.sample_format, layout=layout, rate=rate, frame_size=1024)
        done = 0
        while done < total:
            n = min(4096, total - done)
            frame = av.AudioFrame(format="s16", layout=layout, samples=n)
            frame.planes[0].update(_pcm(n, rate, channels, freq, done))
            frame.sample_rate = rate
            frame.pts = done
            for chunk in resampler.resample(frame):
                out.mux(stream.encode(chunk))
            done += n
        for chunk in resampler.resample(None):
            out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    return path


def write_speech(path: Path, text: str, *, voice: str = "en") -> Path:
    """A WAV of espeak-ng reading `text` (real speech, not a tone)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (scripts/system-deps.sh installs it)")
    subprocess.run([exe, "-v", voice, "-w", str(path), text], check=True, capture_output=True, timeout=60)
    return path


def truncate(src: Path, dst: Path, *, keep: float) -> Path:
    """Copy the first `keep` fraction of `src` to `dst`: a download cut short."""
    data = src.read_bytes()
    dst.write_bytes(data[: max(1, int(len(data) * keep))])
    return dst


def corrupt(src: Path, dst: Path, *, header_bytes: int = 64, seed: int = 7) -> Path:
    """Keep the first `header_bytes` (so the file still sniffs as audio) and
    replace the rest with deterministic noise: damaged media."""
    import random

    data = src.read_bytes()
    rng = random.Random(seed)
    noise = bytes(rng.getrandbits(8) for _ in range(len(data) - header_bytes))
    dst.write_bytes(data[:header_bytes] + noise)
    return dst


def text_file(path: Path) -> Path:
    path.write_text("This is not audio, whatever its name says.\n" * 20)
    return path


def write_video_only(path: Path, *, frames: int = 10) -> Path:
    """An MP4 with one grey video stream and no sound: the container sniffs as
    M4A, yet there is nothing to play."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame(32, 32, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([128]) * plane.buffer_size)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def mp3_frames(data: bytes) -> list[bytes]:
    """The 4-byte headers of every MPEG audio frame in `data`, walking frame by
    frame from the start; raises if the bytes between frames are not frames."""
    from adapters.audio.transcode import mpeg_frame_length

    headers: list[bytes] = []
    at = 0
    while at < len(data):
        length = mpeg_frame_length(data[at : at + 4])
        if length is None:
            raise ValueError(f"no MPEG frame header at byte {at} of {len(data)}")
        headers.append(data[at : at + 4])
        at += length
    return headers


PAUSE_RATE = 8000


def write_with_pause(path: Path, seconds: float, pause_at: float, pause_s: float = 1.0) -> Path:
    """A mono WAV of a tone whose loudness wanders, silent for `pause_s` from `pause_at`."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(PAUSE_RATE)
        done = 0
        total = int(seconds * PAUSE_RATE)
        while done < total:
            n = min(PAUSE_RATE // 2, total - done)
            at = done / PAUSE_RATE
            if pause_at <= at < pause_at + pause_s:
                out.writeframes(b"\0\0" * n)
            else:
                out.writeframes(_pcm(n, PAUSE_RATE, 1, 220.0 + 40 * (int(at) % 5), done))
            done += n
    return path
