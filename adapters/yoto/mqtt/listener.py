"""The long-lived MQTT listener: each linked account's players watched over
connections that respect the broker's limits, their state and history written
through the records port. Everything is injected, so the same loop runs under
`make run`, in the ECS task, in the on-demand Lambda and in tests (docs/mqtt.md).
"""

from __future__ import annotations

import json
import logging
import queue
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from adapters.yoto.mqtt.acks import ACK_TIMEOUT_S, AckWaiters, send_command
from adapters.yoto.mqtt.transport import BrokerConfig, ConnectRefused, SubscribeRefused, Transport, TransportError
from core.errors import NotFound
from core.ports import PlayerRepository
from core.records import PlayerEvent
from core.yoto import payloads
from core.yoto.messages import Ack, Events, Malformed, Message, Presence, Status, parse_message
from core.yoto.payloads import Command
from core.yoto.protocol import PLAYERS_PER_CONNECTION, command_topic, subscribe_topics
from core.yoto.results import CommandResult
from core.yoto.state import merge

log = logging.getLogger(__name__)

EVENTS_EVERY_S = 4 * 60  # players stop pushing events about 5 min after the last request
FULL_STATUS_AFTER_S = 0.5
DUPLICATE_WITHIN_S = 2.0
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


StateWatcher = Callable[[str, Mapping[str, Any], Mapping[str, Any]], None]


class Watchers:
    """Who hears of every change to a player's merged state, as (player id, state
    before, state after), in arrival order on one thread of their own: a watcher may
    read the records and send commands over the listener's connection (the
    acknowledgement arrives on paho's network thread, which a watcher never holds up).
    One that raises is logged and counted; the next change still reaches it."""

    def __init__(self) -> None:
        self._watchers: list[StateWatcher] = []
        self._queue: queue.SimpleQueue[tuple[str, Mapping[str, Any], Mapping[str, Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, watcher: StateWatcher) -> None:
        with self._lock:
            self._watchers.append(watcher)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mqtt-watchers", daemon=True)
                self._thread.start()

    def offer(self, player_id: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        if self._watchers:
            self._queue.put((player_id, before, after))

    def close(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            for watcher in list(self._watchers):
                try:
                    watcher(*item)
                except Exception:
                    self.counts["watcher_errors"] += 1
                    log.exception("a state watcher failed on player %s", item[0])


class StateWriter:
    """Parsed messages → merged state and history through the records port.

    The merge happens at once, in memory (each player's state is kept here, so a
    message costs no read); the writes are batched by a background thread every
    `batch_s`: per player one `merge_state` of everything that changed, and one
    `add_events` for the history. A busy player's position updates therefore
    cost one write per batch, not two per message, and a slow backend never
    holds up paho's network thread (acks are matched before anything is stored).
    """

    def __init__(
        self,
        players: PlayerRepository,
        *,
        keep_events_s: int = KEEP_EVENTS_S,
        batch_s: float = 0.05,
        watchers: Watchers | None = None,
    ) -> None:
        self._players = players
        self.watchers = watchers or Watchers()
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
        self._seen: dict[tuple[str, str], float] = {}
        self.counts: Counter[str] = Counter()

    def _duplicate(self, message: Events) -> bool:
        """The same events again within `DUPLICATE_WITHIN_S`: a QoS 1 redelivery, or the
        copy a player sends on its legacy topic. Stored and counted once."""
        key = (message.player_id, json.dumps(message.changes, sort_keys=True, default=str))
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 2000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < DUPLICATE_WITHIN_S}
            seen = self._seen.get(key)
            self._seen[key] = now
        return seen is not None and now - seen < DUPLICATE_WITHIN_S

    def write(self, message: Message) -> None:
        if isinstance(message, Malformed):
            self.counts["malformed"] += 1
            log.warning("malformed MQTT payload on %s: %s", message.topic, message.reason)
            return
        if isinstance(message, Events) and self._duplicate(message):
            self.counts["duplicates"] += 1
            return
        player_id = message.player_id
        try:
            state = self._known_state(player_id)
            after: dict[str, Any] | None = None
            with self._lock:
                changes = merge(state, message)
                if changes:
                    after = self._states[player_id] = {**state, **changes}
                    self._pending_state[player_id] = {**self._pending_state.get(player_id, {}), **changes}
                payload = history_payload(message)
                if payload is not None:
                    kind = "presence" if isinstance(message, Presence) else type(message).__name__.lower()
                    kind = {"ack": "response"}.get(kind, kind)
                    self._pending_events.append(PlayerEvent(player_id, datetime.now(UTC), kind, payload))
            self.counts[type(message).__name__.lower()] += 1
            if after is not None:
                self.watchers.offer(player_id, state, after)
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


class Link:
    """One connection of an account, for at most `PLAYERS_PER_CONNECTION` of its
    players, kept up by its own thread until `stop()`."""

    def __init__(self, session: AccountSession, index: int) -> None:
        self.session = session
        self.account = session.account
        self.index = index
        self._listener = session.listener
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.transport: Transport | None = None
        self.waiters = AckWaiters()
        self.wanted: list[str] = []  # assigned by the session
        self.player_ids: list[str] = []  # subscribed on the open connection
        self._offline: set[str] = set()
        self._full_due: dict[str, float] = {}
        self._ready = False  # connected AND subscribed to every assigned player
        self._dirty = False  # assigned players changed since the last subscribe
        self.connects = 0
        self.thread = threading.Thread(target=self._run, name=f"mqtt-{self.account}-{index}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def assign(self, players: list[str]) -> None:
        self.wanted = list(players)
        self._dirty = True
        self._wake.set()

    @property
    def connected(self) -> bool:
        """Serving: the connection is up and every assigned player's topics are subscribed."""
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
        self.player_ids = []
        applied = False
        next_events = time.monotonic() + listener.events_every_s
        while not self._stop.is_set() and transport.connected:
            if self.session.listed and (not applied or self._dirty):
                self._dirty = False
                self._apply()
                applied = True
                if not self._ready:
                    self._ready = True
                    self.connects += 1
            now = time.monotonic()
            if now >= next_events:
                for player_id in self.player_ids:
                    self._request(player_id, payloads.events_request())
                next_events = now + listener.events_every_s
            for player_id, due in list(self._full_due.items()):
                if now >= due:
                    self._full_due.pop(player_id, None)
                    if player_id in self.player_ids:
                        self._request(player_id, payloads.full_status_request(secrets.token_hex(8)))
            soonest = min([next_events, *self._full_due.values()])
            self._wake.wait(max(0.0, soonest - time.monotonic()))
            self._wake.clear()

    def _apply(self) -> None:
        """Subscribe to assigned players not yet subscribed (one SUBSCRIBE each, its
        SUBACK read), unsubscribe from players no longer assigned, and ask each new
        player for events and status (the full status a moment later)."""
        transport = self.transport
        assert transport is not None
        wanted = list(dict.fromkeys(self.wanted))
        gone = [p for p in self.player_ids if p not in wanted]
        if gone:
            topics = [t for p in gone for t in subscribe_topics(p)]
            transport.unsubscribe(topics, timeout=self._listener.connect_timeout_s)
        subscribed = [p for p in self.player_ids if p in wanted]
        new: list[str] = []
        for player_id in wanted:
            if player_id in subscribed:
                continue
            topics = subscribe_topics(player_id)
            try:
                transport.subscribe(topics, timeout=self._listener.connect_timeout_s)
            except SubscribeRefused as exc:
                self._listener.counts["subscribe_refused"] += 1
                log.warning("player %s of account %s: %s (tried again later)", player_id, self.account, exc)
                transport.unsubscribe(topics, timeout=self._listener.connect_timeout_s)  # what was granted
                continue
            new.append(player_id)
        self.player_ids = [p for p in wanted if p in subscribed or p in new]
        for player_id in new:
            self._ask(player_id)

    def _ask(self, player_id: str) -> None:
        self._request(player_id, payloads.events_request())
        self._request(player_id, payloads.status_request())
        # a full status request straight after status/request can cost a reply (yoto_api): leave a gap
        self._full_due[player_id] = time.monotonic() + FULL_STATUS_AFTER_S
        self._wake.set()

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
                self._ask(message.player_id)

    def _close(self) -> None:
        self._ready = False
        self._full_due.clear()
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()


class AccountSession:
    """Everything the listener keeps for one account: its player list, re-read
    every `relist_every_s`, spread over as many `Link`s (connections) as the
    broker's per-connection subscription limit needs (one for up to ten players)."""

    def __init__(self, account: str, listener: Listener) -> None:
        self.account = account
        self.listener = listener
        self.listed = False  # a player listing has been assigned to the links
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.links: list[Link] = [Link(self, 0)]
        self.thread = threading.Thread(target=self._run, name=f"mqtt-{account}", daemon=True)

    def start(self) -> None:
        self.links[0].start()
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        for link in self._links():
            link.stop()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in [self.thread, *(link.thread for link in self._links())]:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _links(self) -> list[Link]:
        with self._lock:
            return list(self.links)

    @property
    def connected(self) -> bool:
        return all(link.connected for link in self._links())

    @property
    def connects(self) -> int:
        return sum(link.connects for link in self._links())

    @property
    def transport(self) -> Transport | None:
        """The first connection's transport (one account has one until it has over ten players)."""
        return self._links()[0].transport

    @property
    def player_ids(self) -> list[str]:
        return [p for link in self._links() for p in link.player_ids]

    def link_of(self, player_id: str) -> Link | None:
        for link in self._links():
            if player_id in link.player_ids and link.connected:
                return link
        return None

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                players = list(dict.fromkeys(self.listener.players_for(self.account)))
            except Exception:
                log.exception("could not list the players of account %s", self.account)
                listener = self.listener
                self._stop.wait(listener.relist_every_s if self.listed else listener.backoff.delay(attempt))
                attempt += 1
                continue
            attempt = 0
            self.assign(players)
            self._stop.wait(self.listener.relist_every_s)

    def assign(self, players: list[str]) -> None:
        """Keep each player on the link it is on; put new ones where there is room,
        on new links when there is none; drop links left empty (but the first)."""
        per_link = self.listener.players_per_connection
        started: list[Link] = []
        stopped: list[Link] = []
        with self._lock:
            wanted = set(players)
            plan = [[p for p in link.wanted if p in wanted] for link in self.links]
            placed = {p for chunk in plan for p in chunk}
            waiting = [p for p in players if p not in placed]
            for chunk in plan:
                while waiting and len(chunk) < per_link:
                    chunk.append(waiting.pop(0))
            while waiting:
                link = Link(self, len(self.links))
                self.links.append(link)
                started.append(link)
                plan.append(waiting[:per_link])
                waiting = waiting[per_link:]
            keep: list[Link] = []
            for i, (link, chunk) in enumerate(zip(self.links, plan, strict=True)):
                if chunk or i == 0:
                    link.assign(chunk)
                    keep.append(link)
                else:
                    stopped.append(link)
            self.links = keep
            self.listed = True
        for link in started:
            if not self._stop.is_set():
                link.start()
        for link in stopped:
            link.stop()
        for link in keep:
            link._wake.set()


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
        players_per_connection: int = PLAYERS_PER_CONNECTION,
    ) -> None:
        self.config = config
        self.accounts = accounts
        self.token_for = token_for
        self.players_for = players_for
        self.events_every_s = events_every_s
        self.relist_every_s = relist_every_s
        self.backoff = backoff or Backoff()
        self.connect_timeout_s = connect_timeout_s
        self.players_per_connection = max(1, min(players_per_connection, PLAYERS_PER_CONNECTION))
        self.writer = StateWriter(players, keep_events_s=keep_events_s)
        self.watchers = self.writer.watchers
        self.counts: Counter[str] = Counter()
        self.sessions: dict[str, AccountSession] = {}
        self.last_contact: datetime | None = None
        self._stop = threading.Event()

    def touch(self) -> None:
        self.last_contact = datetime.now(UTC)

    def add_watcher(self, watcher: StateWatcher) -> None:
        """`watcher(player_id, before, after)` after each change of a player's merged state (`Watchers`)."""
        self.watchers.add(watcher)

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
            session.join(max(0.0, deadline - time.monotonic()))
        self.writer.close()
        self.watchers.close()

    def _link(self, player_id: str) -> Link | None:
        for session in list(self.sessions.values()):
            link = session.link_of(player_id)
            if link is not None:
                return link
        return None

    def can_send(self, player_id: str) -> bool:
        """Whether an open connection is subscribed to the player (so `send` would publish)."""
        return self._link(player_id) is not None

    def send(self, player_id: str, command: Command, *, timeout: float = ACK_TIMEOUT_S) -> CommandResult:
        """A command over the open connection that has the player."""
        link = self._link(player_id)
        if link is None:
            raise TransportError(f"no open connection has player {player_id}")
        return link.send(player_id, command, timeout)

    def health(self) -> dict[str, Any]:
        """The heartbeat: last broker contact, connected accounts and counts."""
        sessions = dict(self.sessions)
        return {
            "last_contact": self.last_contact.isoformat() if self.last_contact else None,
            "accounts": sorted(sessions),
            "connected_accounts": sorted(a for a, s in sessions.items() if s.connected),
            "connections": sum(len(s.links) for s in sessions.values()),
            "counts": dict(self.counts + self.writer.counts + self.watchers.counts),
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
