"""The one volume conversion: the player's 0–16 steps against the 0–100 command scale."""

from __future__ import annotations

from core.yoto import DEVICE_VOLUME_MAX, device_to_percent, nearest_volume_percent, percent_to_device


def test_device_steps_as_percent() -> None:
    steps = [device_to_percent(level) for level in range(DEVICE_VOLUME_MAX + 1)]
    assert steps[:3] == [0, 7, 13] and steps[-1] == 100
    assert len(set(steps)) == 17 and steps == sorted(steps)
    assert device_to_percent(-3) == 0 and device_to_percent(40) == 100


def test_percent_lands_on_the_nearest_step() -> None:
    assert percent_to_device(0) == 0 and percent_to_device(100) == 16
    assert percent_to_device(50) == 8
    assert nearest_volume_percent(50) == 50
    assert nearest_volume_percent(10) == 13  # 1.6 steps: nearest is step 2
    assert percent_to_device(-5) == 0 and percent_to_device(250) == 16
    for level in range(17):
        assert percent_to_device(device_to_percent(level)) == level, "each step must survive a round trip"


def test_volume_max_caps_the_step() -> None:
    assert percent_to_device(100, volume_max=10) == 10
    assert nearest_volume_percent(100, volume_max=8) == 50
    assert percent_to_device(20, volume_max=10) == 3
