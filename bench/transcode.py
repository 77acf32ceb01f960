"""Normalising speed: PyAV (bundled FFmpeg) against miniaudio + lameenc.

Both stacks turn the same generated files into CBR MP3, 128 kbps, 44.1 kHz
stereo, in the same process, alternating run by run so machine noise hits
both alike. PyAV is the baseline: the figure that matters is the ratio
(miniaudio time / PyAV time; above 1 means PyAV is faster).

The PyAV side is the service's own `adapters.audio.transcode.normalize` (including its
damage checks); the miniaudio side is the shortest equivalent: miniaudio
decodes and resamples to 44.1 kHz stereo s16 in chunks, lameenc encodes.
miniaudio has no AAC/M4A or Opus decoder: those rows say so.

    .venv/bin/python bench/transcode.py --seconds 300 --repeat 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.audio.transcode import normalize
from core.audio import TARGET_BITRATE, TARGET_RATE
from tests.audio_fixtures import FORMATS, ToneFormat, write_tone

# (label, format key, sample rate, channels): common upload shapes.
INPUTS = [
    ("WAV 44.1 kHz stereo", "wav", 44100, 2),
    ("FLAC 48 kHz stereo", "flac", 48000, 2),
    ("MP3 44.1 kHz stereo", "mp3", 44100, 2),
    ("Ogg Vorbis 44.1 kHz stereo", "ogg-vorbis", 44100, 2),
    ("M4A (AAC) 48 kHz stereo", "m4a", 48000, 2),
]


def pyav_stack(src: Path, dst: Path) -> float:
    return normalize(src, dst).duration_s


def miniaudio_stack(src: Path, dst: Path) -> float:
    import lameenc
    import miniaudio

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(TARGET_BITRATE // 1000)
    encoder.set_in_sample_rate(TARGET_RATE)
    encoder.set_channels(2)
    encoder.set_quality(3)  # LAME's default, which FFmpeg's libmp3lame also uses
    frames = 0
    with open(dst, "wb") as out:
        for chunk in miniaudio.stream_file(str(src), nchannels=2, sample_rate=TARGET_RATE, frames_to_read=4096):
            frames += len(chunk) // 2
            out.write(encoder.encode(chunk.tobytes()))
        out.write(encoder.flush())
    return frames / TARGET_RATE


def timed(stack: Callable[[Path, Path], float], src: Path, dst: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, audio seconds written). CPU time is the
    steadier figure on a machine other people share."""
    wall, cpu = time.perf_counter(), time.process_time()
    seconds = stack(src, dst)
    return time.perf_counter() - wall, time.process_time() - cpu, seconds


STACKS: dict[str, Callable[[Path, Path], float]] = {"pyav": pyav_stack, "miniaudio": miniaudio_stack}


def peak_rss_mb(stack: str, src: Path, dst: Path) -> float:
    """Peak resident memory of a fresh interpreter that imports the stack and
    normalises `src` once (so one stack's buffers do not count for the other)."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", stack, str(src), str(dst)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def run_one(stack: str, src: Path, dst: Path) -> None:
    STACKS[stack](src, dst)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across
    # fork+exec, so the child would report the (bigger) bench process instead.
    status = Path("/proc/self/status").read_text()
    hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(hwm_kb / 1024)


def have_miniaudio() -> str | None:
    try:
        import lameenc  # noqa: F401
        import miniaudio
    except ImportError:
        return None
    return str(miniaudio.__version__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="length of each generated input")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stack and input (median is reported)")
    parser.add_argument("--one", nargs=3, metavar=("STACK", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one[0], Path(args.one[1]), Path(args.one[2]))
        return

    import av

    mini_version = have_miniaudio()
    machine = f"python {platform.python_version()} {platform.machine()}"
    print(f"{machine}, PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}), miniaudio {mini_version}")
    print(f"inputs: {args.seconds:g} s tones; median of {args.repeat} runs; ratio = miniaudio+lameenc / PyAV\n")
    print("| input | PyAV CPU s | miniaudio+lameenc CPU s | ratio CPU | ratio wall | PyAV x realtime (CPU) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
        work = Path(tmp)
        rss_input: Path | None = None
        for label, key, rate, channels in INPUTS:
            b = FORMATS[key]
            spec = ToneFormat(b.name, b.suffix, b.container, b.codec, b.sample_format, rate, b.options)
            src = write_tone(work / f"in-{key}{b.suffix}", spec, seconds=args.seconds, channels=channels)
            rss_input = rss_input or src
            runs: dict[str, list[tuple[float, float]]] = {"pyav": [], "miniaudio": []}
            mini_error = None if mini_version else "not installed"
            for _ in range(args.repeat):
                for name in ("pyav", "miniaudio"):
                    if name == "miniaudio" and mini_error:
                        continue
                    try:
                        wall, cpu, got = timed(STACKS[name], src, work / f"out-{name}.mp3")
                    except Exception as exc:  # miniaudio raises its own DecodeError for formats it lacks
                        mini_error = f"cannot decode ({type(exc).__name__})"
                        continue
                    assert abs(got - args.seconds) < 0.2, (label, name, got)
                    runs[name].append((wall, cpu))
            p_wall = statistics.median(w for w, _ in runs["pyav"])
            p_cpu = statistics.median(c for _, c in runs["pyav"])
            if mini_error is None:
                m_wall = statistics.median(w for w, _ in runs["miniaudio"])
                m_cpu = statistics.median(c for _, c in runs["miniaudio"])
                row = f"| {label} | {p_cpu:.2f} | {m_cpu:.2f} | {m_cpu / p_cpu:.2f} | {m_wall / p_wall:.2f} |"
            else:
                row = f"| {label} | {p_cpu:.2f} | {mini_error} | n/a | n/a |"
            print(f"{row} {args.seconds / p_cpu:.0f} |", flush=True)
        if rss_input is not None:
            # Same format, a tenth of the length: if memory followed the file,
            # the two figures would differ by the PCM size (tens of MB).
            short = write_tone(work / "short.wav", "wav", seconds=args.seconds / 10, channels=2, rate=44100)
            lengths = f"{args.seconds:g} s vs {args.seconds / 10:g} s"
            print(f"\npeak RSS (VmHWM) of a fresh process normalising a WAV, {lengths}:")
            for name in ("pyav", "miniaudio") if mini_version else ("pyav",):
                long_mb = peak_rss_mb(name, rss_input, work / "rss.mp3")
                short_mb = peak_rss_mb(name, short, work / "rss.mp3")
                print(f"- {name}: {long_mb:.0f} MB vs {short_mb:.0f} MB")


if __name__ == "__main__":
    main()
