"""One listening level: measure integrated loudness (EBU R 128, libavfilter's
`ebur128`), choose a gain toward -16 LUFS, and apply it with `volume`, and
`alimiter` where the gain would push peaks past the ceiling. Frames in and out
are 44.1 kHz stereo; the targets and why two passes: docs/audio.md."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from core.audio import TARGET_LAYOUT, TARGET_RATE

TARGET_LUFS = -16.0
CEILING_DBTP = -1.5
MAX_GAIN_DB = 20.0
# The limiter holds sample peaks this far below the true-peak ceiling: room for
# the peaks between samples and for what MP3 encoding adds.
LIMIT_MARGIN_DB = 1.0
# ebur128's floor: with nothing above its absolute gate (-70 LUFS) there is no
# integrated loudness to speak of (silence, or under 0.4 s of sound).
_GATE_LUFS = -70.0


@dataclass(frozen=True)
class Measured:
    """What `Meter` saw: integrated loudness (None: nothing above the gate) and the sample peak."""

    lufs: float | None
    peak_db: float


@dataclass(frozen=True)
class Plan:
    gain_db: float
    limit: bool  # whether the limiter runs

    @classmethod
    def for_input(cls, measured: Measured) -> Plan:
        """The gain toward TARGET_LUFS (at most MAX_GAIN_DB up; none for what cannot be measured)."""
        if measured.lufs is None:
            return cls(0.0, measured.peak_db > CEILING_DBTP - LIMIT_MARGIN_DB)
        gain = min(TARGET_LUFS - measured.lufs, MAX_GAIN_DB)
        return cls(round(gain, 2), measured.peak_db + gain > CEILING_DBTP - LIMIT_MARGIN_DB)


def _graph(in_format: str, chain: list[tuple[str, str]], out_format: str) -> Any:
    """abuffer (44.1 kHz stereo in in_format) -> the chain -> aformat(out_format) -> sink."""
    import av

    graph = av.filter.Graph()
    node = graph.add_abuffer(
        format=in_format, sample_rate=TARGET_RATE, layout=TARGET_LAYOUT, time_base=Fraction(1, TARGET_RATE)
    )
    for name, args in [*chain, ("aformat", f"sample_fmts={out_format}:channel_layouts={TARGET_LAYOUT}")]:
        nxt = graph.add(name, args)
        node.link_to(nxt)
        node = nxt
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    return graph


class _Filtered:
    """Push uniform frames through a filter graph, collect what comes out;
    `readings` keeps the newest ebur128 metadata seen (not every frame has it)."""

    def __init__(self, in_format: str, chain: list[tuple[str, str]], out_format: str) -> None:
        import av

        self._again = (av.BlockingIOError, av.EOFError)
        self._graph = _graph(in_format, chain, out_format)
        self.readings: dict[str, str] = {}

    def push(self, frame: Any) -> list[Any]:
        self._graph.push(frame)
        return self._pull()

    def flush(self) -> list[Any]:
        self._graph.push(None)
        return self._pull()

    def _pull(self) -> list[Any]:
        out = []
        while True:
            try:
                frame = self._graph.pull()
            except self._again:
                return out
            out.append(frame)
            meta = frame.metadata
            if "lavfi.r128.I" in meta:
                self.readings = dict(meta)


_METER = ("ebur128", "metadata=1:peak=sample")


def _reading(meta: dict[str, str]) -> Measured:
    lufs = float(meta.get("lavfi.r128.I", "-inf"))
    peak = float(meta.get("lavfi.r128.sample_peak", "0") or 0)
    return Measured(
        lufs=None if not math.isfinite(lufs) or lufs <= _GATE_LUFS else round(lufs, 2),
        peak_db=round(20 * math.log10(peak), 2) if peak > 0 else -math.inf,
    )


class Meter:
    """Integrated loudness and sample peak of the frames given (44.1 kHz
    stereo in `SAMPLE_FORMAT`, the one ebur128 works in: no conversion)."""

    SAMPLE_FORMAT = "dbl"

    def __init__(self) -> None:
        self._filtered = _Filtered(self.SAMPLE_FORMAT, [_METER], self.SAMPLE_FORMAT)

    def add(self, frame: Any) -> None:
        self._filtered.push(frame)

    def result(self) -> Measured:
        self._filtered.flush()
        return _reading(self._filtered.readings)


class Shaper:
    """Apply a `Plan` to uniform 44.1 kHz stereo frames in `SAMPLE_FORMAT`;
    they leave in `out_format`. The output is measured only where the limiter
    runs: a gain alone moves loudness and peak by exactly itself."""

    SAMPLE_FORMAT = "fltp"

    def __init__(self, plan: Plan, measured: Measured, out_format: str) -> None:
        self._plan, self._measured = plan, measured
        chain = [("volume", f"volume={plan.gain_db}dB:precision=float")]
        if plan.limit:
            limit = 10 ** ((CEILING_DBTP - LIMIT_MARGIN_DB) / 20)
            chain.append(("alimiter", f"limit={limit:.4f}:level=false:latency=true:attack=5:release=50"))
            chain.append(_METER)
        self._filtered = _Filtered(self.SAMPLE_FORMAT, chain, out_format)

    def push(self, frame: Any) -> list[Any]:
        return self._filtered.push(frame)

    def flush(self) -> list[Any]:
        return self._filtered.flush()

    def result(self) -> Measured:
        """The output's loudness and sample peak (call after `flush`)."""
        if self._plan.limit:
            return _reading(self._filtered.readings)
        gain = self._plan.gain_db
        lufs = None if self._measured.lufs is None else round(self._measured.lufs + gain, 2)
        return Measured(lufs=lufs, peak_db=round(self._measured.peak_db + gain, 2))
