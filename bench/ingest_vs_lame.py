"""Ingest speed against the `lame` command-line encoder (issue 20).

One generated WAV (44.1 kHz stereo, tones and noise, 5 minutes by default)
is encoded to CBR 128 kbps MP3 by `lame` and by our ingest
(`PyAVTranscoder().normalize`: without and with loudness normalisation, and
with PyAV's own libmp3lame instead of lameenc), run after run in turn;
medians of wall and CPU time. ratio = lame / ours (1 = as fast; budget 0.7).

    .venv/bin/python bench/ingest_vs_lame.py --runs 5
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.audio.transcode import PyAVTranscoder
from core.audio import DEFAULT_MAX_DURATION_S, TARGET_BITRATE
from tests.test_transcode import write_signal

# LAME's own default quality (-q 3) is what FFmpeg's libmp3lame keeps when no
# compression level is set, as ours does; -t leaves out the Xing/LAME frame,
# as ours (with no tag fields given, lame writes no ID3 tag).
LAME = ["lame", "--silent", "-b", str(TARGET_BITRATE // 1000), "--cbr", "-q", "3", "-t"]


# Two tones (one per channel, moving in level) under white noise.
SIGNAL = (
    "0.30*sin(2*PI*440*t)*(0.6+0.4*sin(2*PI*0.2*t))+0.08*(2*random(0)-1)"
    "|0.25*sin(2*PI*659*t)*(0.6+0.4*cos(2*PI*0.3*t))+0.08*(2*random(1)-1)"
)


def ours(loudness: bool, engine: str = "auto") -> Callable[[Path, Path], None]:
    transcoder = PyAVTranscoder(loudness=loudness, engine=engine)

    def run(src: Path, dst: Path) -> None:
        transcoder.normalize(src, dst, max_duration_s=DEFAULT_MAX_DURATION_S, bitrate=TARGET_BITRATE)

    return run


def lame(src: Path, dst: Path) -> None:
    subprocess.run([*LAME, str(src), str(dst)], check=True)


def timed(run: Callable[[Path, Path], None], src: Path, dst: Path) -> tuple[float, float]:
    """(wall, CPU) seconds; CPU counts this process and the children it waited for (lame)."""

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    wall, used = time.perf_counter(), cpu()
    run(src, dst)
    return time.perf_counter() - wall, cpu() - used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each encoder (medians are reported)")
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the generated WAV")
    args = parser.parse_args()
    if shutil.which("lame") is None:
        sys.exit("lame is not on PATH (apt-get install lame)")

    import av

    from adapters.audio.mp3_encoder import have_lameenc

    if not have_lameenc():
        print("lameenc is not installed: every 'ours' row below uses PyAV's libmp3lame")
    version = subprocess.run(["lame", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"python {platform.python_version()} {platform.machine()}, PyAV {av.__version__}, {version}")
    print(f"command: {' '.join(sys.argv)}")
    print(f"lame: {' '.join(LAME)} in.wav out.mp3")
    print(f"input: {args.seconds:g} s WAV, 44.1 kHz stereo s16, tones + noise; median of {args.runs} runs each\n")
    contenders: dict[str, Callable[[Path, Path], None]] = {
        "lame": lame,
        "ours, no loudness": ours(False),
        "ours, loudness": ours(True),
        "ours, loudness, PyAV's libmp3lame": ours(True, "pyav"),
    }
    with tempfile.TemporaryDirectory(prefix="bench-lame-") as tmp:
        work = Path(tmp)
        src = write_signal(work / "in.wav", SIGNAL, args.seconds)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        for _ in range(args.runs):
            for name, run in contenders.items():
                times[name].append(timed(run, src, work / "out.mp3"))
    base_wall = statistics.median(w for w, _ in times["lame"])
    base_cpu = statistics.median(c for _, c in times["lame"])
    print("| encoder | median wall s | x real time | ratio lame / ours, wall | median CPU s | ratio lame / ours, CPU |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, samples in times.items():
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        ratios = (
            ("1 (baseline)", "1 (baseline)") if name == "lame" else (f"{base_wall / wall:.2f}", f"{base_cpu / cpu:.2f}")
        )
        print(f"| {name} | {wall:.2f} | {args.seconds / wall:.0f} | {ratios[0]} | {cpu:.2f} | {ratios[1]} |")


if __name__ == "__main__":
    main()
