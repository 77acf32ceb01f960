"""The `Transcoder` port on PyAV (FFmpeg's libraries in the wheel, so it works
on Lambda): content sniffing, probing, normalising any accepted upload to the
stored MP3 layout, and cutting such an MP3 on frame boundaries. `av` is imported
inside the functions, so importing this stays cheap. The rules: docs/audio.md."""

from __future__ import annotations

import math
import os
import struct
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

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
) -> AudioFacts:
    """Decode `src` (any accepted format) and write CBR MP3, 44.1 kHz stereo, to `dst`.

    `dst` appears only when everything succeeded (written next to it, then
    renamed); on any error nothing is left behind. Frames are streamed, so
    memory does not grow with the length of the file.
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
        seconds = _transcode(src, tmp, kind, max_duration_s=max_duration_s, bitrate=bitrate)
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


def _transcode(src: Path, tmp: Path, kind: str, *, max_duration_s: float, bitrate: int) -> float:
    """Decode, resample and encode; returns the seconds written. Raises on damage."""
    import av

    cap_samples = int(max_duration_s * TARGET_RATE)
    limit = _duration_text(max_duration_s)
    with _open_input(src, kind) as inp:
        stream = _audio_stream(inp)
        promised = _promised_seconds(src, kind, inp)
        if promised is not None and promised > max_duration_s:
            raise AudioTooLong(f"the audio is too long: {_duration_text(promised)}, more than the {limit} limit")
        # No tag and no Info frame: see the module docstring (items get joined).
        with av.open(str(tmp), "w", format="mp3", options={"id3v2_version": "0", "write_xing": "0"}) as out:
            ostream = out.add_stream("libmp3lame", rate=TARGET_RATE, layout=TARGET_LAYOUT)
            ostream.bit_rate = bitrate
            encoder = _Encoder(out, ostream)
            packets = bad = 0
            last_failed = False
            try:
                for packet in inp.demux(stream):
                    flushing = packet.size == 0
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError:
                        if not flushing:
                            packets += 1
                            bad += 1
                            last_failed = True
                        continue
                    if not flushing:
                        packets += 1
                        last_failed = False
                    for frame in frames:
                        encoder.add(frame)
                        if encoder.samples > cap_samples:
                            raise AudioTooLong(f"the audio is too long: more than the {limit} limit")
                encoder.finish()
            except av.error.FFmpegError as exc:
                at = encoder.samples / TARGET_RATE
                raise UnreadableAudio(f"the {kind} data is damaged after {at:.1f} s: {_why(exc)}") from exc
    seconds = encoder.samples / TARGET_RATE
    _check_complete(src, kind, seconds=seconds, promised=promised, packets=packets, bad=bad, last_failed=last_failed)
    return seconds


def _check_complete(
    src: Path, kind: str, *, seconds: float, promised: float | None, packets: int, bad: int, last_failed: bool
) -> None:
    if seconds <= 0:
        raise UnreadableAudio(f"no sound could be decoded from the {kind} file")
    if promised is not None and seconds < promised - max(0.5, 0.02 * promised):
        raise UnreadableAudio(
            f"the {kind} file is cut short or damaged: its header promises {promised:.1f} s,"
            f" only {seconds:.1f} s could be decoded"
        )
    if last_failed:
        raise UnreadableAudio(f"the {kind} file is cut short: its last frame is incomplete")
    if kind == "ogg" and not _ogg_ends_cleanly(src):
        raise UnreadableAudio("the ogg file is cut short: it does not end with a complete final page")
    if bad > max(2, packets // 100):
        raise UnreadableAudio(f"the {kind} data is damaged: {bad} of {packets} frames could not be decoded")


class _Encoder:
    """Resample any decoded frame to the target layout and encode it in MP3-frame-sized chunks.

    Inputs may change sample rate or layout mid-stream (chained Ogg, odd MP3s),
    so a resampler is made per input signature; a FIFO re-chunks the uniform
    output into the 1152-sample frames the encoder wants."""

    def __init__(self, out: Any, ostream: Any) -> None:
        import av

        self._av = av
        self._out = out
        self._stream = ostream
        self._fifo = av.AudioFifo()
        self._time_base = Fraction(1, TARGET_RATE)
        self._resampler: Any = None
        self._signature: tuple[str, str, int] | None = None
        self.samples = 0

    def add(self, frame: Any) -> None:
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if signature != self._signature:
            if self._resampler is not None:
                self._push(self._resampler.resample(None))
            self._resampler = self._av.AudioResampler(format="fltp", layout=TARGET_LAYOUT, rate=TARGET_RATE)
            self._signature = signature
        frame.pts = None
        self._push(self._resampler.resample(frame))
        self._drain(partial=False)

    def finish(self) -> None:
        if self._resampler is not None:
            self._push(self._resampler.resample(None))
        self._drain(partial=True)
        self._out.mux(self._stream.encode(None))

    def _push(self, frames: list[Any]) -> None:
        for frame in frames:
            # Resampled frames keep their input's time base, which the FIFO
            # would take for a change of stream; they are all 1/44100 now.
            frame.pts = None
            frame.time_base = self._time_base
            self._fifo.write(frame)

    def _drain(self, *, partial: bool) -> None:
        while self._fifo.samples >= MP3_FRAME_SAMPLES or (partial and self._fifo.samples):
            chunk = self._fifo.read(MP3_FRAME_SAMPLES, partial=partial)
            if chunk is None:
                break
            chunk.pts = self.samples
            chunk.sample_rate = TARGET_RATE
            self.samples += chunk.samples
            self._out.mux(self._stream.encode(chunk))


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
    starts, at = [], 0
    while at + 4 <= len(data):
        length = mpeg_frame_length(data[at : at + 4])
        if not length:
            raise Invalid("the normalised episode is not a clean MP3 stream")
        starts.append(at)
        at += length
    per = math.ceil(len(starts) / max(1, parts))
    out = []
    for n in range(0, len(starts), per):
        end = starts[n + per] if n + per < len(starts) else len(data)
        part = work / f"{path.stem}-part{len(out) + 1}.mp3"
        part.write_bytes(data[starts[n] : end])
        out.append(part)
    return out


class PyAVTranscoder:
    """The `Transcoder` port over this module's functions (stateless)."""

    def sniff(self, path: Path) -> str | None:
        return sniff(path)

    def probe(self, path: Path) -> AudioFacts:
        return probe(path)

    def normalize(self, src: Path, dst: Path, *, max_duration_s: float, bitrate: int) -> AudioFacts:
        return normalize(src, dst, max_duration_s=max_duration_s, bitrate=bitrate)

    def split(self, path: Path, work: Path, parts: int) -> list[Path]:
        return split_mp3(path, work, parts)
