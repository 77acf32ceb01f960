"""Commands with acknowledgement: publish, then wait (bounded) for the player's answer.

An answer is an `Ack` on `device/{id}/response` whose key belongs to the
command's family (`ack_keys`: `card` for every `card/*`, legacy names too) and
whose `req_body`, when present, is the payload we sent. A status, full-status
or events request also counts as answered when that status or those events arrive. A player may never
answer (the widely used open-source client does not even listen for acks), so
`timeout` is a result, not an error.

Two ways to send: `send_command` over a connection that is already open and
feeding `AckWaiters` (the listener's), and `send_once` which opens its own
connection for one command (no listener running, e.g. on Lambda).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from adapters.yoto.mqtt.transport import BrokerConfig, Transport
from core.yoto.messages import Ack, Events, Message, Status, parse_message
from core.yoto.payloads import Command
from core.yoto.protocol import command_topic, response_topic, subscribe_topics
from core.yoto.results import CommandResult

ACK_TIMEOUT_S = 3.0
# Ack keys reported beside the generic ones (`ack_keys`): `card-play` is the ack
# of the old `command/card-play` topic and has been reported for `card/start`;
# the Node.js client lists `sleepTimer` as another key of the sleep timer.
LEGACY_ACK_KEYS: dict[str, frozenset[str]] = {
    "card/start": frozenset({"card-play"}),
    "sleep-timer/set": frozenset({"sleepTimer"}),
}


def ack_keys(family: str) -> frozenset[str]:
    """Every key a player may answer `family` under: the family itself
    (`events/request`), its first path segment (`card` for every `card/*`,
    `volume`, `events`…), the hyphenated form (`card-start`) and the legacy names."""
    first = family.split("/", 1)[0]
    return frozenset({family, first, family.replace("/", "-")}) | LEGACY_ACK_KEYS.get(family, frozenset())


def answer(command: Command, player_id: str, message: Message) -> CommandResult | None:
    """The result `message` gives `command` sent to `player_id`, or None if it is not its answer."""
    if getattr(message, "player_id", None) != player_id:
        return None
    if command.family == "status/request" and isinstance(message, Status) and not message.full:
        return CommandResult("ok")
    if command.family == "status" and isinstance(message, Status) and message.full:
        return CommandResult("ok")
    if command.family == "events/request" and isinstance(message, Events):
        return CommandResult("ok")
    if not isinstance(message, Ack) or not _same_body(message.req_body, command):
        return None
    keys = ack_keys(command.family)
    verdicts = [ok for key, ok in message.results.items() if key in keys]
    if not verdicts:
        return None
    if all(verdicts):
        return CommandResult("ok")
    return CommandResult("failed", message.reason or f"the player answered FAIL to {command.family}")


def _same_body(req_body: Any, command: Command) -> bool:
    """req_body absent: cannot tell, accept. Otherwise it must be what we sent,
    compared as JSON so spacing and key order do not matter."""
    if req_body is None:
        return True
    if isinstance(req_body, str):
        text = req_body.strip()
        if not text:
            return command.body is None or command.body == {}
        try:
            req_body = json.loads(text)
        except ValueError:
            return False
    return req_body == (command.body if command.body is not None else {})


class PendingCommand:
    def __init__(self, player_id: str, command: Command) -> None:
        self.player_id = player_id
        self.command = command
        self._done = threading.Event()
        self._result: CommandResult | None = None

    def offer(self, message: Message) -> bool:
        result = answer(self.command, self.player_id, message)
        if result is None or self._done.is_set():
            return False
        self._result = result
        self._done.set()
        return True

    def wait(self, timeout: float) -> CommandResult | None:
        return self._result if self._done.wait(timeout) else None


class AckWaiters:
    """Commands waiting for an answer; feed it every parsed message of the connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[PendingCommand] = []

    def expect(self, player_id: str, command: Command) -> PendingCommand:
        pending = PendingCommand(player_id, command)
        with self._lock:
            self._pending.append(pending)
        return pending

    def forget(self, pending: PendingCommand) -> None:
        with self._lock:
            if pending in self._pending:
                self._pending.remove(pending)

    def offer(self, message: Message) -> None:
        """Resolve the oldest waiting command this message answers (one message, one command)."""
        with self._lock:
            for pending in self._pending:
                if pending.offer(message):
                    self._pending.remove(pending)
                    return

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


def answer_topics(player_id: str, command: Command) -> list[str]:
    """What to subscribe to for the answer to `command`."""
    if command.family in ("status/request", "status", "events/request"):
        return [response_topic(player_id), *subscribe_topics(player_id)]
    return [response_topic(player_id)]


def send_command(
    transport: Transport,
    waiters: AckWaiters,
    player_id: str,
    command: Command,
    *,
    timeout: float = ACK_TIMEOUT_S,
) -> CommandResult:
    """Publish on an open connection whose messages feed `waiters` and that is
    subscribed to `answer_topics`; wait at most `timeout` for the answer."""
    started = time.monotonic()
    pending = waiters.expect(player_id, command)
    try:
        transport.publish(command_topic(player_id, command.family), command.payload, qos=1, timeout=timeout)
        left = max(0.0, timeout - (time.monotonic() - started))
        result = pending.wait(left)
    finally:
        waiters.forget(pending)
    elapsed = time.monotonic() - started
    if result is None:
        return CommandResult("timeout", f"no answer from the player within {timeout:g} s", elapsed)
    return CommandResult(result.outcome, result.reason, elapsed)


def send_once(
    config: BrokerConfig,
    player_id: str,
    command: Command,
    *,
    token: str | None,
    timeout: float = ACK_TIMEOUT_S,
    connect_timeout: float = 5.0,
) -> CommandResult:
    """Connect, subscribe to the answer, publish, wait, disconnect: for when no
    listener runs. Raises `adapters.yoto.mqtt.transport.TransportError` when the broker cannot
    be reached or refuses the token; the player's silence is a `timeout` result."""
    waiters = AckWaiters()
    transport = Transport(
        config,
        token=token,
        client_id_prefix="ysscmd",
        on_message=lambda topic, payload: waiters.offer(parse_message(topic, payload)),
    )
    transport.connect(connect_timeout)
    try:
        transport.subscribe(answer_topics(player_id, command), timeout=connect_timeout)
        return send_command(transport, waiters, player_id, command, timeout=timeout)
    finally:
        transport.close()
