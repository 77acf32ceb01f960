"""Yoto's card limits in words (`core.yoto.limits`) and where long audio is cut (`core.split_points`)."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from core.settings import Settings
from core.split_points import cut_points
from core.yoto.limits import MB, CardLimits, Sized, breaches, check

STEP = 0.1  # seconds per level


def levels(duration_s: float, quiet: dict[float, float], loud: float = -20.0) -> list[float]:
    """A level every STEP seconds; `quiet` maps a start second to how long a silence (-90 dB) lasts."""
    out = [loud] * int(duration_s / STEP)
    for at, length in quiet.items():
        for i in range(int(at / STEP), int((at + length) / STEP)):
            out[i] = -90.0
    return out


def test_the_limits_come_from_the_settings() -> None:
    limits = CardLimits.of(Settings(yoto_max_card_hours=2, yoto_max_track_mb=50, max_card_tracks=10))
    assert (limits.max_card_s, limits.max_track_bytes, limits.max_tracks) == (7200, 50 * MB, 10)
    assert CardLimits.of(Settings()) == CardLimits()  # the defaults are Yoto's figures


def test_a_card_that_fits_passes() -> None:
    check(CardLimits(), [Sized(f"Story {n}", 50 * 60, 40 * MB) for n in range(6)])  # 5 h, 240 MB


def test_a_six_hour_playlist_is_refused_naming_the_five_hour_limit_and_by_how_much() -> None:
    tracks = [Sized(f"Chapter {n}", 45 * 60, 20 * MB) for n in range(8)]
    with pytest.raises(Invalid) as refused:
        check(CardLimits(), tracks)
    assert str(refused.value) == (
        "over Yoto's limits: the card lasts 6 h, 1 h over the 5 h a card may hold (YOTO_MAX_CARD_HOURS)"
    )


def test_every_limit_passed_is_named_with_its_excess() -> None:
    tracks = [Sized("Long", 70 * 60, 120 * MB), *[Sized("Short", 60, 5 * MB) for _ in range(100)]]
    found = breaches(CardLimits(), tracks)
    assert found == [
        "101 tracks is 1 over the 100 a card may hold (MAX_CARD_TRACKS)",
        "track 1 “Long” lasts 1 h 10 min, 10 min over the 1 h a track may last (YOTO_MAX_TRACK_MINUTES)",
        "track 1 “Long” is 120 MB, 20 MB over the 100 MB a track may be (YOTO_MAX_TRACK_MB)",
        "the card is 620 MB, 120 MB over the 500 MB a card may hold (YOTO_MAX_CARD_MB)",
    ]


def test_seventy_minutes_with_a_pause_at_53_are_cut_in_that_pause() -> None:
    duration = 70 * 60.0
    cuts = cut_points(duration, levels(duration, {53 * 60.0: 2.0}), STEP, limit_s=3600)
    assert len(cuts) == 1 and abs(cuts[0] - (53 * 60 + 1.0)) < 1.0, cuts


def test_audio_shorter_than_the_limit_is_not_cut() -> None:
    assert cut_points(59 * 60.0, [], STEP, limit_s=3600) == []


def test_a_breath_loses_to_a_real_pause() -> None:
    duration = 65 * 60.0
    quiet = {51 * 60.0: 0.1, 54 * 60.0: 1.2}  # a tenth of a second, then a pause
    cuts = cut_points(duration, levels(duration, quiet), STEP, limit_s=3600)
    assert len(cuts) == 1 and 54 * 60 <= cuts[0] <= 54 * 60 + 1.2, cuts


def test_hours_of_audio_are_cut_so_no_part_reaches_the_limit() -> None:
    duration = 4 * 3600 + 20 * 60.0
    quiet = {52 * 60.0 * n: 1.0 for n in range(1, 5)}  # a pause every 52 minutes
    cuts = cut_points(duration, levels(duration, quiet), STEP, limit_s=3600)
    parts = [b - a for a, b in zip([0.0, *cuts], [*cuts, duration], strict=True)]
    assert all(part < 3600 for part in parts), parts
    assert all(50 * 60 <= part <= 55 * 60 for part in parts[:-1]), parts
    assert len(cuts) == 4


def test_with_no_pause_the_cut_falls_at_the_start_of_the_window() -> None:
    duration = 61 * 60.0
    cuts = cut_points(duration, levels(duration, {}), STEP, limit_s=3600)
    assert cuts == [pytest.approx(50 * 60, abs=STEP)]


@pytest.mark.parametrize("limit_s", [1.0, 6.0, 60.0])
def test_a_cut_never_passes_the_end_of_its_window_however_short_the_limit(limit_s: float) -> None:
    duration = 2.5 * limit_s
    quiet = {limit_s * 0.99: limit_s}  # the quietest moment lies just past the window
    cuts = cut_points(duration, levels(duration, quiet), STEP, limit_s=limit_s)
    parts = [b - a for a, b in zip([0.0, *cuts], [*cuts, duration], strict=True)]
    assert all(part <= limit_s * 55 / 60 + 1e-6 for part in parts[:-1]), parts
    assert parts[-1] < limit_s, parts


def test_levels_are_required_for_long_audio() -> None:
    with pytest.raises(ValueError, match="levels are needed"):
        cut_points(2 * 3600.0, [], STEP, limit_s=3600)
