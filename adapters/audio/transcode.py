"""The `Transcoder` port on PyAV (FFmpeg's libraries in the wheel, so it works
on Lambda): content sniffing, probing, normalising any accepted upload to the
stored MP3 layout, and cutting such an MP3 on frame boundaries. `av` is imported
inside the functions, so importing this stays cheap. The rules: docs/audio.md."""

from __future__ import annotations

import itertools
import math
import operator
import os
import struct
import tempfile
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.audio.loudness import Meter, Plan, Shaper
from adapters.audio.mp3_encoder import open_encoder
from core.audio import (
    DEFAULT_MAX_DURATION_S,
    MP3_FRAME_SAMPLES,
    TARGET_BITRATE,
    TARGET_CHANNELS,
    TARGET_LAYOUT,
    TARGET_RATE,
    AudioFacts,
    AudioTooLong,
    UnreadableAudio,
    UnsupportedAudio,
)
from core.errors import Invalid

LEVEL_RATE = 2000  # samples a second the pause finder reads (mono)

# Demuxer names for what `sniff` found: opening with the named demuxer stops
# FFmpeg from probing its way into some other reading of the same bytes.
_DEMUXERS = {"mp3": "mp3", "aac": "aac", "m4a": "mp4", "wav": "wav", "flac": "flac", "ogg": "ogg"}

# ISO-BMFF brands that are pictures, not sound (HEIF/AVIF photos, Canon raw).
_IMAGE_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis", b"crx "}

_HEAD_BYTES = 16 * 1024


# --------------------------------------------------------------------------- sniffing


def sniff_bytes(head: bytes) -> str | None:
    """The format the leading bytes announce, or None.

    Answers one of mp3, aac (raw ADTS), m4a (any ISO-BMFF/MP4 that is not a
    picture), wav, flac, ogg. An ID3v2 tag is skipped and what follows it
    decides; when `head` ends inside the tag (a big cover picture) the answer
    is "mp3" (`sniff` on a file reads on past the tag instead).
    """
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return None if head[8:12] in _IMAGE_BRANDS else "m4a"
    if head[:3] == b"ID3" and len(head) >= 10:
        end = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
        if end >= len(head):
            return "mp3"
        return sniff_bytes(head[end:])
    return _sniff_frames(head.lstrip(b"\x00"))


def sniff(path: Path) -> str | None:
    """Detect the audio format of a file by its content (see `sniff_bytes`)."""
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
        if head[:3] == b"ID3" and len(head) >= 10:
            # Read past a tag longer than the first read so what follows decides.
            end = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
            if end >= len(head):
                fh.seek(end)
                rest = fh.read(_HEAD_BYTES)
                return sniff_bytes(rest)
    return sniff_bytes(head)


def _syncsafe(b: bytes) -> int:
    return (b[0] & 0x7F) << 21 | (b[1] & 0x7F) << 14 | (b[2] & 0x7F) << 7 | (b[3] & 0x7F)


_MPEG_BITRATES = {  # kbps by (version is MPEG-1, layer) ; index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_ADTS_RATES = 13


def mpeg_frame_length(header: bytes) -> int | None:
    """Length in bytes of the MPEG audio frame starting with `header` (4 bytes),
    or None when the bytes are not a valid, fixed-bitrate frame header."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 reserved
    layer_bits = (header[1] >> 1) & 3  # 3 = layer I, 2 = II, 1 = III, 0 reserved
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 3
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    if layer == 3 and not mpeg1:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding


def _adts_frame_length(header: bytes) -> int | None:
    if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
        return None
    if (header[2] >> 2) & 0xF >= _ADTS_RATES:
        return None
    length = (header[3] & 3) << 11 | header[4] << 3 | header[5] >> 5
    return length if length >= 7 else None


def _sniff_frames(head: bytes) -> str | None:
    """Raw MPEG audio or ADTS AAC: a valid header, and a second one right after
    the first frame when the bytes reach that far (random data rarely passes)."""
    for kind, length_of in (("aac", _adts_frame_length), ("mp3", mpeg_frame_length)):
        length = length_of(head[:7])
        if length is None:
            continue
        following = head[length : length + 7]
        if len(following) < 4 or length_of(following) is not None:
            return kind
    return None


# --------------------------------------------------------------------------- normalising


def normalize(
    src: Path,
    dst: Path,
    *,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    bitrate: int = TARGET_BITRATE,
    loudness: bool = True,
    engine: str = "auto",
) -> AudioFacts:
    """Decode `src` (any accepted format) and write CBR MP3, 44.1 kHz stereo, to `dst`.

    With `loudness`, a first pass measures the input and the second brings it
    toward -16 LUFS under a -1.5 dBTP ceiling (`adapters.audio.loudness`).
    `engine` picks the MP3 encoder (`adapters.audio.mp3_encoder`). `dst`
    appears only when everything succeeded (written next to it, then renamed);
    on any error nothing is left behind. Frames are streamed, so memory does
    not grow with the length of the file.
    """
    kind = sniff(src) if src.stat().st_size else None  # a missing src raises FileNotFoundError
    if kind is None:
        raise UnsupportedAudio("not an audio file we accept (MP3, M4A/AAC, WAV, FLAC, Ogg Vorbis/Opus)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the item is served to players
        seconds, level = _transcode(
            src, tmp, kind, max_duration_s=max_duration_s, bitrate=bitrate, loudness=loudness, engine=engine
        )
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return AudioFacts(
        duration_s=seconds,
        size_bytes=dst.stat().st_size,
        sample_rate=TARGET_RATE,
        channels=TARGET_CHANNELS,
        bitrate=bitrate,
        format="mp3",
        source_format=kind,
        **level,
    )


def probe(path: Path) -> AudioFacts:
    """What the headers of an audio file say, without decoding it."""
    kind = sniff(path) if path.stat().st_size else None
    if kind is None:
        raise UnsupportedAudio("not an audio file we accept")
    import av

    with _open_input(path, kind) as container:
        stream = _audio_stream(container)
        duration = container.duration / av.time_base if container.duration else 0.0
        return AudioFacts(
            duration_s=duration,
            size_bytes=path.stat().st_size,
            sample_rate=stream.rate,
            channels=stream.channels,
            bitrate=int(stream.bit_rate or container.bit_rate or 0),  # the codec's own figure first
            format=kind,
            source_format=kind,
        )


def _open_input(path: Path, kind: str) -> Any:
    import av

    try:
        return av.open(str(path), format=_DEMUXERS[kind])
    except av.error.FFmpegError as exc:
        raise UnreadableAudio(f"the {kind} file cannot be opened: {_why(exc)}") from exc


def _audio_stream(container: Any) -> Any:
    if not container.streams.audio:
        raise UnsupportedAudio("the file holds no audio stream")
    stream = container.streams.audio[0]
    if stream.codec_context is None or not stream.codec_context.name:
        raise UnreadableAudio("the audio stream uses a codec this build cannot decode")
    return stream


def _why(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc).rstrip(".").lower()


def _duration_text(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.1f} s"


class _Decoded:
    """Every frame of the audio stream, resampled to 44.1 kHz stereo in one
    sample format, counting undecodable packets (`_check_complete` reads them)
    and stopping at the duration cap. Inputs may change rate or layout
    mid-stream (chained Ogg, odd MP3s), so a resampler is made per input signature."""

    def __init__(self, inp: Any, stream: Any, sample_format: str, *, cap_samples: int, limit: str) -> None:
        self._inp, self._stream, self._format = inp, stream, sample_format
        self._cap, self._limit = cap_samples, limit
        self.packets = self.bad = self.samples = 0
        self.last_failed = False

    def __iter__(self) -> Any:
        import av

        resampler: Any = None
        signature: tuple[str, str, int] | None = None
        for packet in self._inp.demux(self._stream):
            flushing = packet.size == 0
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                if not flushing:
                    self.packets += 1
                    self.bad += 1
                    self.last_failed = True
                continue
            if not flushing:
                self.packets += 1
                self.last_failed = False
            for frame in frames:
                if (frame.format.name, frame.layout.name, frame.sample_rate) != signature:
                    if resampler is not None:
                        yield from self._count(resampler.resample(None))
                    resampler = av.AudioResampler(format=self._format, layout=TARGET_LAYOUT, rate=TARGET_RATE)
                    signature = (frame.format.name, frame.layout.name, frame.sample_rate)
                frame.pts = None
                yield from self._count(resampler.resample(frame))
        if resampler is not None:
            yield from self._count(resampler.resample(None))

    def _count(self, frames: list[Any]) -> Any:
        for frame in frames:
            self.samples += frame.samples
            if self.samples > self._cap:
                raise AudioTooLong(f"the audio is too long: more than the {self._limit} limit")
            frame.pts = None
            yield frame


def _transcode(
    src: Path, tmp: Path, kind: str, *, max_duration_s: float, bitrate: int, loudness: bool, engine: str
) -> tuple[float, dict[str, float | None]]:
    """Measure (with `loudness`), then decode, shape and encode; returns the
    seconds written and the loudness figures for `AudioFacts`. Raises on damage."""
    cap_samples = int(max_duration_s * TARGET_RATE)
    limit = _duration_text(max_duration_s)
    plan = measured = None
    with _open_input(src, kind) as inp:
        stream = _audio_stream(inp)
        promised = _promised_seconds(src, kind, inp)
        if promised is not None and promised > max_duration_s:
            raise AudioTooLong(f"the audio is too long: {_duration_text(promised)}, more than the {limit} limit")
        if loudness:
            decoded = _Decoded(inp, stream, Meter.SAMPLE_FORMAT, cap_samples=cap_samples, limit=limit)
            meter = Meter()
            _decode_all(decoded, kind, meter.add)
            _check_complete(src, kind, promised=promised, decoded=decoded)
            measured = meter.result()
            plan = Plan.for_input(measured)
    encoder = open_encoder(tmp, bitrate, engine)
    shaper = Shaper(plan, measured, encoder.sample_format) if plan and measured else None
    try:
        with _open_input(src, kind) as inp:
            stream = _audio_stream(inp)
            sample_format = Shaper.SAMPLE_FORMAT if shaper else encoder.sample_format
            decoded = _Decoded(inp, stream, sample_format, cap_samples=cap_samples, limit=limit)
            if shaper is None:
                _decode_all(decoded, kind, encoder.add)
            else:
                _decode_all(decoded, kind, lambda frame: _each(shaper.push(frame), encoder.add))
                _each(shaper.flush(), encoder.add)
            encoder.finish()
    finally:
        encoder.close()
    _check_complete(src, kind, promised=promised, decoded=decoded)
    seconds = decoded.samples / TARGET_RATE
    if plan is None or measured is None or shaper is None:
        return seconds, {}
    out = shaper.result()
    return seconds, {
        "loudness_in_lufs": measured.lufs,
        "loudness_lufs": out.lufs,
        "peak_dbfs": out.peak_db if math.isfinite(out.peak_db) else None,
        "gain_db": plan.gain_db,
    }


def _each(frames: list[Any], add: Any) -> None:
    for frame in frames:
        add(frame)


def _decode_all(decoded: _Decoded, kind: str, add: Any) -> None:
    """Feed every decoded frame to `add`; FFmpeg failing mid-way is damage."""
    import av

    try:
        for frame in decoded:
            add(frame)
    except av.error.FFmpegError as exc:
        at = decoded.samples / TARGET_RATE
        raise UnreadableAudio(f"the {kind} data is damaged after {at:.1f} s: {_why(exc)}") from exc


def _check_complete(src: Path, kind: str, *, promised: float | None, decoded: _Decoded) -> None:
    seconds, packets, bad = decoded.samples / TARGET_RATE, decoded.packets, decoded.bad
    if seconds <= 0:
        raise UnreadableAudio(f"no sound could be decoded from the {kind} file")
    if promised is not None and seconds < promised - max(0.5, 0.02 * promised):
        raise UnreadableAudio(
            f"the {kind} file is cut short or damaged: its header promises {promised:.1f} s,"
            f" only {seconds:.1f} s could be decoded"
        )
    if decoded.last_failed:
        raise UnreadableAudio(f"the {kind} file is cut short: its last frame is incomplete")
    if kind == "ogg" and not _ogg_ends_cleanly(src):
        raise UnreadableAudio("the ogg file is cut short: it does not end with a complete final page")
    if bad > max(2, packets // 100):
        raise UnreadableAudio(f"the {kind} data is damaged: {bad} of {packets} frames could not be decoded")


# --------------------------------------------------------------------------- header promises


def _promised_seconds(src: Path, kind: str, container: Any) -> float | None:
    """The duration the file's header states, where it states one; None where
    FFmpeg could only estimate it (raw ADTS, MP3 without an Info frame, Ogg)."""
    if kind == "wav":
        return _wav_promised_seconds(src)
    if kind in ("flac", "m4a") or (kind == "mp3" and _mp3_has_info_frame(src)):
        return container.duration / 1_000_000 if container.duration else None
    return None


def _wav_promised_seconds(src: Path) -> float | None:
    """Seconds the RIFF `data` chunk says it holds (FFmpeg trims this to the
    file size, so a cut-off WAV would pass unnoticed without reading it here)."""
    with open(src, "rb") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF":
            return None  # RF64/BW64 keep the real size in a ds64 chunk; trust FFmpeg
        byte_rate = 0
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = fh.read(min(size, 16))
                if len(fmt) >= 12:
                    byte_rate = struct.unpack("<I", fmt[8:12])[0]
                fh.seek(size - len(fmt) + (size & 1), os.SEEK_CUR)
            elif cid == b"data":
                if size in (0, 0xFFFFFFFF) or not byte_rate:
                    return None  # written while streaming: the size was never filled in
                return size / byte_rate
            else:
                fh.seek(size + (size & 1), os.SEEK_CUR)


def _mp3_has_info_frame(src: Path) -> bool:
    with open(src, "rb") as fh:
        head = fh.read(10)
        if head[:3] == b"ID3":
            fh.seek(10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0))
        else:
            fh.seek(0)
        first = fh.read(200)
    return any(tag in first for tag in (b"Xing", b"Info", b"VBRI"))


def _ogg_ends_cleanly(src: Path) -> bool:
    """True when the last Ogg page is complete and carries the end-of-stream flag."""
    size = src.stat().st_size
    with open(src, "rb") as fh:
        fh.seek(max(0, size - 70_000))  # an Ogg page is at most 65,307 bytes
        tail = fh.read()
    at = tail.rfind(b"OggS")
    while at >= 0:
        page = tail[at:]
        if len(page) >= 27 and page[4] == 0:
            segments = page[26]
            if len(page) >= 27 + segments:
                body = sum(page[27 : 27 + segments])
                return len(page) == 27 + segments + body and bool(page[5] & 0x04)
        at = tail.rfind(b"OggS", 0, at)
    return False


# --------------------------------------------------------------------------- cutting


def split_mp3(path: Path, work: Path, parts: int) -> list[Path]:
    """Cut our CBR MP3 (no tags, no Info frame) into `parts` files of equal frame counts."""
    data = path.read_bytes()
    starts = _frame_starts(data)
    per = math.ceil(len(starts) / max(1, parts))
    out = []
    for n in range(0, len(starts), per):
        end = starts[n + per] if n + per < len(starts) else len(data)
        part = work / f"{path.stem}-part{len(out) + 1}.mp3"
        part.write_bytes(data[starts[n] : end])
        out.append(part)
    return out


def _frame_starts(data: bytes) -> list[int]:
    starts, at = [], 0
    while at + 4 <= len(data):
        length = mpeg_frame_length(data[at : at + 4])
        if not length:
            raise Invalid("the stored audio is not a clean MP3 stream")
        starts.append(at)
        at += length
    return starts


def _frame_seconds(header: bytes) -> float:
    """How long one MPEG audio frame plays (layer III: 1152 samples on MPEG-1, 576 on 2 and 2.5)."""
    version = (header[1] >> 3) & 3
    layer = 4 - ((header[1] >> 1) & 3)
    samples = 384 if layer == 1 else (MP3_FRAME_SAMPLES if layer == 2 or version == 3 else 576)
    return samples / _MPEG_RATES[version][(header[2] >> 2) & 3]


def cut_mp3(path: Path, work: Path, at_s: Sequence[float]) -> list[Path]:
    """Cut our CBR MP3 at the frame boundaries nearest the given seconds (one file more than cuts)."""
    data = path.read_bytes()
    starts = _frame_starts(data)
    if not starts:
        raise Invalid("the stored audio holds no MP3 frames")
    per_frame_s = _frame_seconds(data[starts[0] : starts[0] + 4])
    marks = sorted({min(len(starts), max(1, round(s / per_frame_s))) for s in at_s})
    bounds = [0, *(m for m in marks if m < len(starts)), len(starts)]
    out = []
    for n, (a, b) in enumerate(itertools.pairwise(bounds), start=1):
        end = starts[b] if b < len(starts) else len(data)
        part = work / f"{path.stem}-part{n}.mp3"
        part.write_bytes(data[starts[a] : end])
        out.append(part)
    return out


def levels(path: Path, step_s: float) -> list[float]:
    """The loudness (RMS dBFS, floor -120) of each `step_s` of the audio, mixed to mono at a
    low rate: enough to find a pause, and cheap enough for hours of audio."""
    import av

    per = max(1, round(LEVEL_RATE * step_s))
    out: list[float] = []
    held = array("h")

    def drain(final: bool) -> None:
        while len(held) >= per or (final and held):
            chunk = held[:per]
            del held[:per]
            power = sum(map(operator.mul, chunk, chunk)) / len(chunk)
            out.append(max(-120.0, 10 * math.log10(power / 32768.0**2)) if power else -120.0)

    try:
        with av.open(str(path)) as container:
            stream = _audio_stream(container)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=LEVEL_RATE)
            for frame in container.decode(stream):
                for low in resampler.resample(frame):
                    held.frombytes(bytes(low.planes[0])[: low.samples * 2])
                drain(False)
            for low in resampler.resample(None):
                held.frombytes(bytes(low.planes[0])[: low.samples * 2])
    except av.FFmpegError as exc:
        raise Invalid(f"the stored audio could not be read: {_why(exc)}") from None
    drain(True)
    return out


class PyAVTranscoder:
    """The `Transcoder` port over this module's functions; loudness
    normalisation on unless told otherwise (the benches compare both)."""

    def sniff(self, path: Path) -> str | None:
        return sniff(path)

    def probe(self, path: Path) -> AudioFacts:
        return probe(path)

    def __init__(self, *, loudness: bool = True, engine: str = "auto") -> None:
        self._loudness = loudness
        self._engine = engine

    def normalize(self, src: Path, dst: Path, *, max_duration_s: float, bitrate: int) -> AudioFacts:
        return normalize(
            src, dst, max_duration_s=max_duration_s, bitrate=bitrate, loudness=self._loudness, engine=self._engine
        )

    def split(self, path: Path, work: Path, parts: int) -> list[Path]:
        return split_mp3(path, work, parts)

    def levels(self, path: Path, step_s: float) -> list[float]:
        return levels(path, step_s)

    def cut(self, path: Path, work: Path, at_s: Sequence[float]) -> list[Path]:
        return cut_mp3(path, work, at_s)
