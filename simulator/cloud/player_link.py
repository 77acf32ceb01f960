"""What the fake cloud and the simulated players share: each player's day or night
limit from its config at the cloud's clock (and that clock: when chapters open), buttons
a test presses, and what the player last said it plays. Players call `sync` now and then
(and at once after a press); a press waits until a player has applied it (docs/yoto.md).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from simulator.cloud.clock import SimClock
from simulator.cloud.devices import FIRMWARE_DEFAULT_CONFIG, DeviceRegistry, day_mode
from simulator.cloud.http import HttpError

BUTTONS = ("left", "right")  # previous and next track, or an interactive card's onLhb and onRhb
PRESS_TIMEOUT_S = 5.0


@dataclass
class _Link:
    queued: list[dict[str, Any]] = field(default_factory=list)
    applied: set[int] = field(default_factory=set)
    playing: dict[str, Any] | None = None
    reported_at: float | None = None


class PlayerLinks:
    def __init__(self, devices: DeviceRegistry, clock: SimClock) -> None:
        self._devices = devices
        self._clock = clock
        self._links: dict[str, _Link] = {}
        self._ids = itertools.count(1)
        self._changed = threading.Condition()

    def _link(self, device_id: str) -> _Link:
        return self._links.setdefault(device_id, _Link())

    def limits(self, device_id: str) -> dict[str, Any]:
        """Day or night at the player's local time (the cloud's clock plus the shadow's utcOffset, in
        seconds), that mode's maximum volume (0-16), and whether the player repeats a card (repeatAll)."""
        device = self._devices.get(device_id)
        offset = device.status_body().get("utcOffset")
        local = self._clock.now() + (offset if isinstance(offset, int | float) else 0)
        day = day_mode(device.config, int(local % 86400) // 60)
        key = "maxVolumeLimit" if day else "nightMaxVolumeLimit"
        raw = str(device.config.get(key, FIRMWARE_DEFAULT_CONFIG[key]))
        repeat = device.config.get("repeatAll", False) in (True, "1")
        return {"day": day, "volumeMax": int(raw), "repeatAll": repeat, "deviceFamily": device.device_family}

    def sync(self, device_id: str, playing: dict[str, Any], applied: list[int]) -> dict[str, Any]:
        """A player's report (what plays, the presses it has applied): answers its limits, new presses
        and the cloud's clock (`now`, a Unix time: when a card's chapters open)."""
        answer = self.limits(device_id) | {"now": self._clock.now()}
        with self._changed:
            link = self._link(device_id)
            link.playing = dict(playing)
            link.reported_at = self._clock.now()
            link.applied.update(applied)
            answer["presses"], link.queued = link.queued, []
            self._changed.notify_all()
        return answer

    def press(self, device_id: str, button: str, timeout_s: float = PRESS_TIMEOUT_S) -> dict[str, Any]:
        """Press a button on the player; answers what it plays once it has applied the press."""
        if button not in BUTTONS:
            raise HttpError(400, f"button must be one of {', '.join(BUTTONS)} (got {button!r})")
        self._devices.get(device_id)
        press = {"id": next(self._ids), "button": button}
        with self._changed:
            link = self._link(device_id)
            link.queued.append(press)
            if not self._changed.wait_for(lambda: press["id"] in link.applied, timeout_s):
                if press in link.queued:
                    link.queued.remove(press)
                raise HttpError(504, f"no simulated player {device_id} took the press within {timeout_s:g} s")
            link.applied.discard(press["id"])
            return dict(link.playing or {})

    def playing(self, device_id: str) -> dict[str, Any]:
        self._devices.get(device_id)
        with self._changed:
            link = self._links.get(device_id)
            if link is None or link.playing is None:
                raise HttpError(404, f"no simulated player {device_id} has reported to this cloud")
            return {"playing": dict(link.playing), "reported_at": link.reported_at}
