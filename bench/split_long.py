"""Where and how fast long audio is cut for Yoto's storage: a 70-minute recording with a
one-second pause at 53 minutes, stored as the ingest stores it, then cut by
`services.long_audio.cut_quietly` at Yoto's hour.

Reported: each part's length, how far the first cut lands from the pause's middle,
the time to read the levels and cut, and that time against the stored audio's
length (x real time). The audio is a tone whose level wanders, silent in the pause.

    .venv/bin/python bench/split_long.py --minutes 70 --pause-at 53 --limit-minutes 60
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.audio.transcode import PyAVTranscoder, probe
from services.long_audio import cut_quietly
from tests.audio_fixtures import write_with_pause


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=70.0)
    parser.add_argument("--pause-at", type=float, default=53.0, help="minutes")
    parser.add_argument("--limit-minutes", type=float, default=60.0)
    args = parser.parse_args()
    transcoder = PyAVTranscoder()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = write_with_pause(work / "long.wav", args.minutes * 60, pause_at=args.pause_at * 60)
        stored = work / "long.mp3"
        started = time.perf_counter()
        transcoder.normalize(src, stored, max_duration_s=24 * 3600, bitrate=128_000)
        ingest_s = time.perf_counter() - started
        seconds = probe(stored).duration_s
        started = time.perf_counter()
        parts = cut_quietly(transcoder, stored, work, seconds, limit_s=args.limit_minutes * 60)
        cut_s = time.perf_counter() - started
        lengths = [probe(p).duration_s for p in parts]
    pause_middle = args.pause_at * 60 + 0.5
    print(f"python {platform.python_version()}, {args.minutes:g} min, pause at {args.pause_at:g} min")
    print(f"ingest (normalise to the stored MP3): {ingest_s:.1f} s")
    print(f"parts: {len(lengths)}, lengths {', '.join(f'{s / 60:.2f} min' for s in lengths)}")
    if len(lengths) > 1:
        print(f"first cut at {lengths[0]:.1f} s, {lengths[0] - pause_middle:+.1f} s from the pause's middle")
    print(f"levels + cut: {cut_s:.2f} s, {seconds / cut_s:.0f}x real time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
