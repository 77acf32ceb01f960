"""MP3 encoders for the stored layout (CBR, 44.1 kHz stereo, no tag, no Info
frame), fed uniform 44.1 kHz stereo frames. `lameenc`'s LAME when installed
(in this venv's PyAV wheel, libmp3lame runs about 3x slower: docs/audio.md),
else PyAV's libmp3lame. Both at LAME's default quality (-q 3)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from core.audio import MP3_FRAME_SAMPLES, TARGET_CHANNELS, TARGET_LAYOUT, TARGET_RATE

LAME_QUALITY = 3  # LAME's own default, which FFmpeg's libmp3lame keeps


class Mp3Encoder(Protocol):
    sample_format: str  # what `add` takes: packed "s16" or planar "fltp"
    samples: int  # per channel, given so far

    def add(self, frame: Any) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


def have_lameenc() -> bool:
    try:
        import lameenc  # noqa: F401
    except ImportError:
        return False
    return True


def open_encoder(path: Path, bitrate: int, engine: str = "auto") -> Mp3Encoder:
    """engine: "lameenc", "pyav", or "auto" (lameenc when installed)."""
    if engine == "lameenc" or (engine == "auto" and have_lameenc()):
        return LameencEncoder(path, bitrate)
    return PyAVEncoder(path, bitrate)


class LameencEncoder:
    sample_format = "s16"

    def __init__(self, path: Path, bitrate: int) -> None:
        import lameenc

        self._lame = lameenc.Encoder()
        self._lame.set_bit_rate(bitrate // 1000)
        self._lame.set_in_sample_rate(TARGET_RATE)
        self._lame.set_channels(TARGET_CHANNELS)
        self._lame.set_quality(LAME_QUALITY)
        self._out = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._width = 2 * TARGET_CHANNELS
        self.samples = 0

    def add(self, frame: Any) -> None:
        n = frame.samples
        self.samples += n
        self._out.write(self._lame.encode(bytes(memoryview(frame.planes[0])[: n * self._width])))

    def finish(self) -> None:
        self._out.write(self._lame.flush())

    def close(self) -> None:
        self._out.close()


class PyAVEncoder:
    """libmp3lame through PyAV: a FIFO re-chunks frames into the 1152 samples it wants."""

    sample_format = "fltp"

    def __init__(self, path: Path, bitrate: int) -> None:
        import av

        self._out = av.open(str(path), "w", format="mp3", options={"id3v2_version": "0", "write_xing": "0"})
        self._stream = self._out.add_stream("libmp3lame", rate=TARGET_RATE, layout=TARGET_LAYOUT)
        self._stream.bit_rate = bitrate
        self._fifo = av.AudioFifo()
        self._time_base = Fraction(1, TARGET_RATE)
        self.samples = 0

    def add(self, frame: Any) -> None:
        # Resampled frames keep their input's time base, which the FIFO would
        # take for a change of stream; they are all 1/44100 now.
        frame.pts = None
        frame.time_base = self._time_base
        self._fifo.write(frame)
        self._drain(partial=False)

    def finish(self) -> None:
        self._drain(partial=True)
        self._out.mux(self._stream.encode(None))

    def close(self) -> None:
        self._out.close()

    def _drain(self, *, partial: bool) -> None:
        while self._fifo.samples >= MP3_FRAME_SAMPLES or (partial and self._fifo.samples):
            chunk = self._fifo.read(MP3_FRAME_SAMPLES, partial=partial)
            if chunk is None:
                break
            chunk.pts = self.samples
            chunk.sample_rate = TARGET_RATE
            self.samples += chunk.samples
            self._out.mux(self._stream.encode(chunk))
