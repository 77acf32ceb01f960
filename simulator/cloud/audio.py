"""The simulator's transcoder: any audio PyAV decodes, re-encoded to Ogg Opus.

The output is bit-exact for the same input (no random Ogg serial, no version
strings), so a transcodedSha256 is a function of the uploaded bytes. PyAV is
imported on the first transcode only: the rest of the simulator is standard library.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

OPUS_RATE = 48000
OPUS_FRAME = 960  # 20 ms at 48 kHz
OPUS_BITRATE = {"mono": 32000, "stereo": 64000}
METADATA_KEYS = ("title", "artist", "album")


class AudioError(Exception):
    """The upload is not audio this transcoder can read; the message says why."""


@dataclass(frozen=True)
class Encoded:
    data: bytes
    sha256: str
    info: dict[str, Any]  # transcodedInfo
    source: dict[str, Any]  # uploadInfo


def _layout_name(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def transcode_to_opus(data: bytes) -> Encoded:
    """Decode `data` whole (its real duration and channels), encode Ogg Opus at 48 kHz, mono or stereo."""
    import av

    try:
        with av.open(io.BytesIO(data)) as inp:
            if not inp.streams.audio:
                raise AudioError("the upload holds no audio stream")
            stream = inp.streams.audio[0]
            in_format = inp.format.name.split(",")[0]
            codec = stream.codec_context.codec.canonical_name  # "mp3", not the decoder "mp3float"
            rate = stream.rate
            in_layout = stream.layout.name
            layout = _layout_name(stream.channels)
            tags = {k.lower(): v for k, v in (inp.metadata or {}).items()}
            out_buffer = io.BytesIO()
            with av.open(out_buffer, "w", format="ogg", container_options={"fflags": "+bitexact"}) as out:
                ostream = out.add_stream("libopus", rate=OPUS_RATE, layout=layout)
                ostream.bit_rate = OPUS_BITRATE[layout]
                resampler = av.AudioResampler(format="s16", layout=layout, rate=OPUS_RATE, frame_size=OPUS_FRAME)
                seconds = 0.0
                for frame in inp.decode(stream):
                    seconds += frame.samples / frame.sample_rate
                    frame.pts = None
                    for chunk in resampler.resample(frame):
                        out.mux(ostream.encode(chunk))
                for chunk in resampler.resample(None):
                    out.mux(ostream.encode(chunk))
                out.mux(ostream.encode(None))
    except av.error.FFmpegError as exc:
        raise AudioError(f"the upload cannot be decoded as audio: {exc}") from exc
    if seconds <= 0:
        raise AudioError("no sound could be decoded from the upload")
    encoded = out_buffer.getvalue()
    duration = round(seconds, 3)
    info = {
        "duration": duration,
        "fileSize": len(encoded),
        "channels": layout,
        "format": "opus",
        "codec": "opus",
        "sampleRate": OPUS_RATE,
        "bitrate": OPUS_BITRATE[layout],
        "inputFormat": in_format,
        "metadata": {k: tags[k] for k in METADATA_KEYS if tags.get(k)},
    }
    source = {
        "duration": duration,
        "fileSize": len(data),
        "channels": in_layout,
        "format": in_format,
        "codec": codec,
        "sampleRate": rate,
    }
    return Encoded(encoded, hashlib.sha256(encoded).hexdigest(), info, source)
