"""The long-lived MQTT listener: one connection per linked Yoto account.

For each account it connects with the account's current access token,
subscribes to its players' topics (both spellings), asks every player for
events and status after each connect and for events again every
`events_every_s` (players stop sending ~5 min after the last request), and
writes what arrives through the records port: the merged state per player and
an expiring event history (batched, see `StateWriter`). Everything it needs is injected, so the same loop
runs under `make run`, in the ECS task, in a short-lived Lambda and in tests.

Faults: a lost connection is retried with jittered exponential backoff (a new
connection, a fresh client id, every subscription made once); a token the
broker refuses is handed back to the token source as `rejected`, which
refreshes it through the shared token store (one refresh chain, compare-and-
swap); malformed payloads and failing record writes are counted and logged,
never fatal; accounts and players are re-listed while running.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from core.errors import NotFound
from core.ports import PlayerRepository
from core.records import PlayerEvent
from mqtt import payloads
from mqtt.commands import ACK_TIMEOUT_S, AckWaiters, CommandResult, send_command
from mqtt.messages import Ack, Events, Malformed, Message, Presence, Status, parse_message
from mqtt.payloads import Command
from mqtt.protocol import command_topic, subscribe_topics
from mqtt.state import merge
from mqtt.transport import BrokerConfig, ConnectRefused, Transport, TransportError

log = logging.getLogger(__name__)

EVENTS_EVERY_S = 4 * 60 + 50
KEEP_EVENTS_S = 90 * 24 * 3600


class TokenSource(Protocol):
    def __call__(self, account: str, *, rejected: str | None = None) -> str:
        """The account's current access token. `rejected`: the broker refused this
        one, so refresh unless the store already holds a newer token."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: half the step fixed, half random."""

    first_s: float = 1.0
    cap_s: float = 60.0
    settled_s: float = 60.0  # a connection that lasted this long resets the count

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        step = min(self.cap_s, self.first_s * 2 ** max(0, attempt))
        return step / 2 + rand() * step / 2


def history_payload(message: Message) -> dict[str, Any] | None:
    """What goes into the event history for a message (None: nothing)."""
    if isinstance(message, Events):
        return dict(message.changes)
    if isinstance(message, Status):
        return {**message.fields, "full": message.full}
    if isinstance(message, Ack):
        return {"results": message.results, "req_body": message.req_body, "reason": message.reason}
    if isinstance(message, Presence):
        return {"online": message.online}
    return None


class StateWriter:
    """Parsed messages → merged state and history through the records port.

    The merge happens at once, in memory (each player's state is kept here, so a
    message costs no read); the writes are batched by a background thread every
    `batch_s`: per player one `merge_state` of everything that changed, and one
    `add_events` for the history. A busy player's position updates therefore
    cost one write per batch, not two per message, and a slow backend never
    holds up paho's network thread (acks are matched before anything is stored).
    """

    def __init__(self, players: PlayerRepository, *, keep_events_s: int = KEEP_EVENTS_S, batch_s: float = 0.05) -> None:
        self._players = players
        self._keep_s = keep_events_s
        self._batch_s = batch_s
        self._states: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._pending_state: dict[str, dict[str, Any]] = {}
        self._pending_events: list[PlayerEvent] = []
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.counts: Counter[str] = Counter()

    def write(self, message: Message) -> None:
        if isinstance(message, Malformed):
            self.counts["malformed"] += 1
            log.warning("malformed MQTT payload on %s: %s", message.topic, message.reason)
            return
        player_id = message.player_id
        try:
            state = self._known_state(player_id)
            with self._lock:
                changes = merge(state, message)
                if changes:
                    self._states[player_id] = {**state, **changes}
                    self._pending_state[player_id] = {**self._pending_state.get(player_id, {}), **changes}
                payload = history_payload(message)
                if payload is not None:
                    kind = "presence" if isinstance(message, Presence) else type(message).__name__.lower()
                    kind = {"ack": "response"}.get(kind, kind)
                    self._pending_events.append(PlayerEvent(player_id, datetime.now(UTC), kind, payload))
            self.counts[type(message).__name__.lower()] += 1
        except Exception:  # a records outage must not stop the connection
            self.counts["write_errors"] += 1
            log.exception("could not store MQTT %s of player %s", type(message).__name__, player_id)
            return
        self._ensure_thread()

    def _known_state(self, player_id: str) -> dict[str, Any]:
        with self._lock:
            state = self._states.get(player_id)
        if state is not None:
            return state
        try:
            state = dict(self._players.get_state(player_id).state)
        except NotFound:
            state = {}
        with self._lock:
            return self._states.setdefault(player_id, state)

    def flush(self) -> None:
        """Write what is pending now (the background thread does this every `batch_s`)."""
        with self._flush_lock:
            with self._lock:
                states, self._pending_state = self._pending_state, {}
                events, self._pending_events = self._pending_events, []
            for player_id, changes in states.items():
                try:
                    self._players.merge_state(player_id, changes)
                except Exception:
                    self.counts["write_errors"] += 1
                    with self._lock:
                        self._states.pop(player_id, None)  # re-read next time: the write did not land
                    log.exception("could not store the state of player %s", player_id)
            if events:
                try:
                    self._players.add_events(events, keep_s=self._keep_s)
                except Exception:
                    self.counts["write_errors"] += len(events)
                    log.exception("could not store %d player events", len(events))

    def close(self) -> None:
        """Stop the background thread after a last flush."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        self.flush()

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._closed.is_set():
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="mqtt-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._batch_s)
            self._wake.clear()
            self.flush()


class AccountSession:
    """One account's connection, kept up by its own thread until `stop()`."""

    def __init__(self, account: str, listener: Listener) -> None:
        self.account = account
        self._listener = listener
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.transport: Transport | None = None
        self.waiters = AckWaiters()
        self.player_ids: list[str] = []
        self._offline: set[str] = set()
        self._ready = False  # connected AND subscribed to every player listed
        self.connects = 0
        self.thread = threading.Thread(target=self._run, name=f"mqtt-{account}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def connected(self) -> bool:
        """Serving: the connection is up and every listed player's topics are subscribed."""
        return self._ready and self.transport is not None and self.transport.connected

    def send(self, player_id: str, command: Command, timeout: float) -> CommandResult:
        transport = self.transport
        if transport is None or not self.connected:
            raise TransportError(f"account {self.account} is not connected")
        return send_command(transport, self.waiters, player_id, command, timeout=timeout)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        listener = self._listener
        attempt = 0
        rejected: str | None = None
        token: str | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                token = listener.token_for(self.account, rejected=rejected)
                rejected = None
                self._connect_and_serve(token)
            except ConnectRefused as exc:
                log.warning("broker refused account %s: %s", self.account, exc)
                if exc.not_authorized:
                    rejected = token
            except TransportError as exc:
                log.warning("MQTT connection of account %s: %s", self.account, exc)
            except Exception:
                log.exception("MQTT session of account %s failed", self.account)
            finally:
                self._close()
            self._wake.clear()
            if self._stop.is_set():
                break
            if time.monotonic() - started >= listener.backoff.settled_s:
                attempt = 0
            delay = listener.backoff.delay(attempt)
            attempt += 1
            listener.counts["reconnects"] += 1
            self._wake.wait(delay)

    def _connect_and_serve(self, token: str) -> None:
        listener = self._listener
        transport = Transport(
            listener.config,
            token=token,
            client_id_prefix="yss",
            on_message=self._on_message,
            on_disconnect=lambda _reason: self._wake.set(),
        )
        self.transport = transport
        transport.connect(listener.connect_timeout_s)
        listener.touch()
        self._sync_players(fresh=True)
        self._ready = True
        self.connects += 1
        next_events = time.monotonic() + listener.events_every_s
        next_players = time.monotonic() + listener.relist_every_s
        while not self._stop.is_set() and transport.connected:
            now = time.monotonic()
            if now >= next_events:
                for player_id in self.player_ids:
                    self._request(player_id, payloads.events_request())
                next_events = now + listener.events_every_s
            if now >= next_players:
                self._sync_players()
                next_players = now + listener.relist_every_s
            self._wake.wait(max(0.0, min(next_events, next_players) - time.monotonic()))
            self._wake.clear()

    def _sync_players(self, *, fresh: bool = False) -> None:
        """Subscribe to players new since the last look and ask them for events and status.

        `fresh`: a new connection, so every player is new to it; `player_ids`
        keeps the previous list until the subscriptions are made.
        """
        transport = self.transport
        assert transport is not None
        current = list(dict.fromkeys(self._listener.players_for(self.account)))
        new = current if fresh else [p for p in current if p not in self.player_ids]
        if new:
            transport.subscribe([t for p in new for t in subscribe_topics(p)], timeout=self._listener.connect_timeout_s)
        self.player_ids = current
        for player_id in new:
            self._request(player_id, payloads.events_request())
            self._request(player_id, payloads.status_request())

    def _request(self, player_id: str, command: Command) -> None:
        if self.transport is None:
            return
        self.transport.publish(command_topic(player_id, command.family), command.payload, qos=1, timeout=None)
        self._listener.counts["requests"] += 1

    def _on_message(self, topic: str, payload: bytes) -> None:
        message = parse_message(topic, payload)
        self._listener.touch()
        self.waiters.offer(message)
        self._listener.writer.write(message)
        if isinstance(message, Presence) and message.player_id in self.player_ids:
            if not message.online:
                self._offline.add(message.player_id)
            elif message.player_id in self._offline:
                # back from its last will: it sends nothing until asked
                self._offline.discard(message.player_id)
                self._request(message.player_id, payloads.events_request())
                self._request(message.player_id, payloads.status_request())

    def _close(self) -> None:
        self._ready = False
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()


class Listener:
    """Keeps one `AccountSession` per linked account until `stop()`."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        accounts: Callable[[], Iterable[str]],
        token_for: TokenSource,
        players_for: Callable[[str], Iterable[str]],
        players: PlayerRepository,
        events_every_s: float = EVENTS_EVERY_S,
        relist_every_s: float = 60.0,
        keep_events_s: int = KEEP_EVENTS_S,
        backoff: Backoff | None = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.config = config
        self.accounts = accounts
        self.token_for = token_for
        self.players_for = players_for
        self.events_every_s = events_every_s
        self.relist_every_s = relist_every_s
        self.backoff = backoff or Backoff()
        self.connect_timeout_s = connect_timeout_s
        self.writer = StateWriter(players, keep_events_s=keep_events_s)
        self.counts: Counter[str] = Counter()
        self.sessions: dict[str, AccountSession] = {}
        self.last_contact: datetime | None = None
        self._stop = threading.Event()

    def touch(self) -> None:
        self.last_contact = datetime.now(UTC)

    def sync_accounts(self) -> None:
        """Start sessions for accounts linked since the last look, stop those unlinked."""
        try:
            wanted = list(dict.fromkeys(self.accounts()))
        except Exception:
            log.exception("could not list linked accounts; keeping the current ones")
            return
        for account in wanted:
            if account not in self.sessions:
                session = AccountSession(account, self)
                self.sessions[account] = session
                session.start()
        for account in [a for a in self.sessions if a not in wanted]:
            self.sessions.pop(account).stop()

    def run(self) -> None:
        """Block until `stop()`; then disconnect every account cleanly."""
        while not self._stop.is_set():
            self.sync_accounts()
            self._stop.wait(self.relist_every_s)
        self._shutdown()

    def stop(self) -> None:
        self._stop.set()

    def _shutdown(self, timeout: float = 8.0) -> None:
        sessions = list(self.sessions.values())
        for session in sessions:
            session.stop()
        deadline = time.monotonic() + timeout
        for session in sessions:
            session.thread.join(max(0.0, deadline - time.monotonic()))
        self.writer.close()

    def can_send(self, player_id: str) -> bool:
        """Whether an open connection is subscribed to the player (so `send` would publish)."""
        return any(player_id in s.player_ids and s.connected for s in list(self.sessions.values()))

    def send(self, player_id: str, command: Command, *, timeout: float = ACK_TIMEOUT_S) -> CommandResult:
        """A command over the open connection of the account that has the player."""
        for session in list(self.sessions.values()):
            if player_id in session.player_ids and session.connected:
                return session.send(player_id, command, timeout)
        raise TransportError(f"no open connection has player {player_id}")

    def health(self) -> dict[str, Any]:
        """The heartbeat: last broker contact, connected accounts and counts."""
        return {
            "last_contact": self.last_contact.isoformat() if self.last_contact else None,
            "accounts": sorted(self.sessions),
            "connected_accounts": sorted(a for a, s in self.sessions.items() if s.connected),
            "counts": dict(self.counts + self.writer.counts),
        }


def run_until_signalled(listener: Listener) -> int:
    """Run in the main thread until SIGTERM or SIGINT, then disconnect every
    account and return 0 (ECS sends SIGTERM and waits stopTimeout; we need < 10 s)."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping the MQTT listener", signum)
        listener.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listener.run()
    return 0
