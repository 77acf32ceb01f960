"""The listener loop: run a player listener beside its heartbeat, stop when told,
at a deadline, or once nobody has watched the players for a while.

The same loop runs as `python -m mqtt` (ECS), the on-demand Lambda and the
thread of `make run` (`InProcess`); the heartbeat rules are `services.listener_health`.
A `tick` (the player rules, `services.player_rules`) runs every `tick_every_s` beside it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.ports import PlayerListener, SettingsRepository
from core.records import utcnow
from services import listener_health

log = logging.getLogger(__name__)


class ListenerRunner:
    """Runs a listener and writes its heartbeat until `stop()`, `ends_at`, or
    (with `idle_s`) nobody has looked at the players for that long."""

    def __init__(
        self,
        listener: PlayerListener,
        settings_repo: SettingsRepository,
        *,
        mode: str = "always",
        ends_at: datetime | None = None,
        idle_s: float | None = None,
        heartbeat_every_s: float = listener_health.HEARTBEAT_EVERY_S,
        now: Callable[[], datetime] = utcnow,
        tick: Callable[[], object] | None = None,
        tick_every_s: float = 30.0,
    ) -> None:
        self.listener = listener
        self._settings = settings_repo
        self.mode = mode
        self.ends_at = ends_at
        self.idle_s = idle_s
        self.heartbeat_every_s = heartbeat_every_s
        self._now = now
        self._stop = threading.Event()
        self.tick = tick
        self.tick_every_s = tick_every_s
        self._ticking = threading.Event()
        self.instance = secrets.token_hex(6)
        self.stopped_because: str | None = None

    def stop(self) -> None:
        self._stop.set()

    def beat(self) -> None:
        try:
            listener_health.write_heartbeat(
                self._settings,
                self.listener.health(),
                mode=self.mode,
                ends_at=self.ends_at,
                now=self._now,
                instance=self.instance,
            )
        except Exception:  # a records outage must not stop the listener; the beat goes stale instead
            log.exception("could not write the MQTT heartbeat")

    def _tick_loop(self, tick: Callable[[], object]) -> None:
        """The tick in a thread of its own, so a slow one (a pause waits for the player) never delays a beat."""
        while not self._ticking.wait(self.tick_every_s):
            try:
                tick()
            except Exception:
                log.exception("the listener's tick failed; the next one tries again")

    def _why_stop(self) -> str | None:
        if self._stop.is_set():
            return "stopped"
        now = self._now()
        if self.ends_at is not None and now >= self.ends_at:
            return "deadline"
        if self.idle_s is not None:
            idle = listener_health.idle_for_s(self._settings, now)
            if idle is None or idle >= self.idle_s:
                return "idle"
        return None

    def run(self) -> str:
        """Block until told to stop; returns why ("stopped", "deadline" or "idle")."""
        thread = threading.Thread(target=self.listener.run, name="mqtt-listener", daemon=True)
        thread.start()
        ticker = None
        if self.tick is not None:
            ticker = threading.Thread(target=self._tick_loop, args=(self.tick,), name="mqtt-tick", daemon=True)
            ticker.start()
        # Soon after the start the heartbeat says how connecting went; then every heartbeat_every_s.
        soon = 0.5
        try:
            while True:
                self.beat()
                why = self._why_stop()
                if why is not None:
                    self.stopped_because = why
                    break
                wait = min(soon, self.heartbeat_every_s)
                soon *= 2
                if self.ends_at is not None:
                    wait = min(wait, max(0.0, (self.ends_at - self._now()).total_seconds()))
                self._stop.wait(wait)
        finally:
            self._ticking.set()
            self.listener.stop()
            thread.join(9.0)
            if ticker is not None:
                ticker.join(9.0)
            try:
                listener_health.clear_heartbeat(self._settings, instance=self.instance)
            except Exception:
                log.exception("could not clear the MQTT heartbeat")
        log.info("MQTT listener stopped (%s)", self.stopped_because)
        return self.stopped_because or "stopped"


class InProcess:
    """The slot of the listener `make run` runs in a thread of the API process, tied
    to its lifespan; commands use its open connection (`current()`). The composition
    root holds one per adapter set and hands `current` to the command sender."""

    def __init__(self) -> None:
        self.handler: ListenerRunner | None = None
        self._thread: threading.Thread | None = None

    def start(self, handler: ListenerRunner) -> None:
        self.handler = handler
        self._thread = threading.Thread(target=handler.run, name="mqtt-handler", daemon=True)
        self._thread.start()

    def current(self) -> Any:
        """The running listener (the adapter's own type: the sender asks it `can_send`), or None."""
        return self.handler.listener if self.handler is not None else None

    def stop(self, timeout: float = 10.0) -> None:
        if self.handler is not None:
            self.handler.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.handler = None
        self._thread = None
