"""The MQTT handler: the listener wired to the records and the Yoto cloud, plus its heartbeat.

One loop for every place it runs: `python -m mqtt` (the ECS task, mqttMode
`always`), the on-demand Lambda (`mqtt/lambda_handler.py`: stops at its
deadline or when nobody has watched the players for `MQTT_IDLE_S`) and the
thread `make run` starts in the API process (`InProcess`).

Linked accounts come from the token records (`TokenRepository.list_accounts`),
each account's players from its REST device list (cached, see
`services.players`), access tokens from `YotoTokenService` (a token the broker
refuses is renewed through the shared store's compare-and-swap).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from adapters.yoto.mqtt.listener import Listener
from adapters.yoto.mqtt.transport import BrokerConfig
from core.records import utcnow
from services import listener_health
from services.players import PlayerPorts, player_ids
from services.yoto_tokens import YotoTokenService

log = logging.getLogger(__name__)

RELIST_EVERY_S = 15.0


def token_source(tokens: YotoTokenService) -> Callable[..., str]:
    def token_for(account: str, *, rejected: str | None = None) -> str:
        if rejected is not None:
            return tokens.renew_rejected(account, rejected)
        return tokens.access_token(account)

    return token_for


def build_listener(
    adapters: Any, *, cloud: Any | None = None, tokens: YotoTokenService | None = None, **options: Any
) -> Listener:
    """A `Listener` over `adapters` (an `adapters.Adapters` of either workload).
    `cloud` defaults to the adapter set's Yoto client."""
    settings = adapters.settings
    records = adapters.records
    cloud = cloud or adapters.yoto
    tokens = tokens or YotoTokenService(records.tokens, records.counters, cloud)
    ports = PlayerPorts.over(records, tokens, cloud)
    options.setdefault("keep_events_s", settings.player_history_days * 24 * 3600)
    # A new link shows within 15 s (one records query per look; the REST device
    # lists behind players_for are re-fetched at most once a minute).
    options.setdefault("relist_every_s", RELIST_EVERY_S)
    return Listener(
        BrokerConfig.from_settings(settings),
        accounts=records.tokens.list_accounts,
        token_for=token_source(tokens),
        players_for=lambda account: player_ids(ports, account),
        players=records.players,
        **options,
    )


class Handler:
    """Runs a listener and writes its heartbeat until `stop()`, `ends_at`, or
    (with `idle_s`) nobody has looked at the players for that long."""

    def __init__(
        self,
        listener: Listener,
        settings_repo: Any,
        *,
        mode: str = "always",
        ends_at: datetime | None = None,
        idle_s: float | None = None,
        heartbeat_every_s: float = listener_health.HEARTBEAT_EVERY_S,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.listener = listener
        self._settings = settings_repo
        self.mode = mode
        self.ends_at = ends_at
        self.idle_s = idle_s
        self.heartbeat_every_s = heartbeat_every_s
        self._now = now
        self._stop = threading.Event()
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
            self.listener.stop()
            thread.join(9.0)
            try:
                listener_health.clear_heartbeat(self._settings, instance=self.instance)
            except Exception:
                log.exception("could not clear the MQTT heartbeat")
        log.info("MQTT handler stopped (%s)", self.stopped_because)
        return self.stopped_because or "stopped"


class InProcess:
    """The listener of `make run`, in a thread of the API process, tied to its lifespan.
    Commands use its open connection (`current()`)."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self._thread: threading.Thread | None = None

    def start(self, handler: Handler) -> None:
        self.handler = handler
        self._thread = threading.Thread(target=handler.run, name="mqtt-handler", daemon=True)
        self._thread.start()

    def current(self) -> Listener | None:
        return self.handler.listener if self.handler is not None else None

    def stop(self, timeout: float = 10.0) -> None:
        if self.handler is not None:
            self.handler.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.handler = None
        self._thread = None


in_process = InProcess()
