"""Audio longer than a track may last, cut where it is quietest into parts.

The levels come from the `Transcoder` port, the choice of cuts from
`core.split_points` (the quietest half second 50 to 55 minutes after each
cut, for Yoto's hour), the cutting at MP3 frame boundaries from the port
again (docs/yoto.md, "Yoto's limits").
"""

from __future__ import annotations

from pathlib import Path

from core.ports import Transcoder
from core.split_points import cut_points

LEVEL_STEP_S = 0.1


def part_title(title: str, n: int) -> str:
    return f"{title}, Part {n}"


def cut_quietly(transcoder: Transcoder, path: Path, work: Path, duration_s: float, *, limit_s: float) -> list[Path]:
    """`path` itself when it fits in `limit_s`, else its parts, each shorter than `limit_s`."""
    if duration_s < limit_s:
        return [path]
    levels = transcoder.levels(path, LEVEL_STEP_S)
    cuts = cut_points(duration_s, levels, LEVEL_STEP_S, limit_s=limit_s)
    return transcoder.cut(path, work, cuts) if cuts else [path]
