"""Where to cut audio longer than a track may last: at its quietest moment before the limit.

From each cut, the next is the quietest half second between 50/60 and 55/60 of
the limit later (50 to 55 minutes for Yoto's hour), so no part reaches the
limit and a cut falls in a pause rather than a word. Levels come from the
audio adapter; this module only chooses (docs/yoto.md, "Yoto's limits").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

SMOOTH_S = 0.5  # a pause shorter than this is a breath between words, not a place to cut


def cut_points(duration_s: float, levels: Sequence[float], step_s: float, *, limit_s: float) -> list[float]:
    """Seconds at which to cut so every part is shorter than `limit_s`; [] when it fits.

    `levels[i]` is the loudness (any monotonic scale, e.g. RMS dB) of the audio
    from `i * step_s` for `step_s` seconds."""
    if duration_s < limit_s:
        return []
    if step_s <= 0 or not levels:
        raise ValueError("levels are needed to choose where to cut")
    width = max(1, round(SMOOTH_S / step_s))
    smooth = _moving_mean(levels, width)
    first, last = limit_s * 50 / 60, limit_s * 55 / 60
    cuts: list[float] = []
    start = 0.0
    while duration_s - start >= limit_s:
        # the half seconds whose middles fall in the window (so a cut never passes its end)
        lo = max(0, math.ceil((start + first) / step_s - width / 2 - 1e-9))
        hi = min(len(smooth) - 1, math.floor((start + last) / step_s - width / 2 + 1e-9))
        if hi < lo:  # the levels end early: cut at the window's start
            cut = start + first
        else:
            quietest = min(range(lo, hi + 1), key=lambda i: (smooth[i], i))
            cut = (quietest + width / 2) * step_s  # the middle of the quietest half second
        cuts.append(round(cut, 3))
        start = cut
    return cuts


def _moving_mean(values: Sequence[float], width: int) -> list[float]:
    """mean(values[i : i + width]) for each i (shorter at the end)."""
    out: list[float] = []
    total = sum(values[:width])
    for i in range(len(values)):
        n = min(width, len(values) - i)
        out.append(total / n)
        total -= values[i]
        if i + width < len(values):
            total += values[i + width]
    return out
