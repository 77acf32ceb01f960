"""A real mosquitto, and a controller connection that watches players the way the
listener will: every message parsed, merged into per-player state, fed to acks."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from adapters.yoto.mqtt.acks import AckWaiters, send_command
from adapters.yoto.mqtt.transport import Transport
from core.yoto.messages import Message, parse_message
from core.yoto.payloads import Command
from core.yoto.protocol import subscribe_topics
from core.yoto.results import CommandResult
from core.yoto.state import api_fields, merge
from tests.brokers import Mosquitto, fresh_mosquitto, mosquitto

__all__ = ["Controller", "fresh_mosquitto", "mosquitto"]


class Controller:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.waiters = AckWaiters()
        self.messages: list[Message] = []
        self.states: dict[str, dict] = {}
        self._changed = threading.Condition()

    def on_message(self, topic: str, payload: bytes) -> None:
        message = parse_message(topic, payload)
        with self._changed:
            self.messages.append(message)
            player = getattr(message, "player_id", None)
            if player:
                state = self.states.get(player, {})
                self.states[player] = {**state, **merge(state, message)}
            self._changed.notify_all()
        self.waiters.offer(message)

    def watch(self, player_id: str) -> None:
        self.transport.subscribe(subscribe_topics(player_id))

    def send(self, player_id: str, command: Command, timeout: float = 3.0) -> CommandResult:
        self.watch(player_id)  # as the listener is: subscribed to every player it commands
        return send_command(self.transport, self.waiters, player_id, command, timeout=timeout)

    def api(self, player_id: str) -> dict:
        return api_fields(player_id, self.states.get(player_id, {}))

    def wait_for(self, check: Callable[[], object], timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"condition not met within {timeout} s; last messages: {self.messages[-5:]}")
                self._changed.wait(min(left, 0.1))


@pytest.fixture(params=["tcp", "websockets"])
def transport_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def controller(mosquitto: Mosquitto, transport_kind: str) -> Iterator[Controller]:
    holder: list[Controller] = []
    transport = Transport(mosquitto.config(transport_kind), on_message=lambda t, p: holder[0].on_message(t, p))
    holder.append(Controller(transport))
    transport.connect()
    yield holder[0]
    transport.close()


@pytest.fixture
def player_id() -> str:
    """A fresh id per test (the session broker is shared); with a `-`, as real device ids can have."""
    return f"sim-{uuid.uuid4().hex[:10]}"
