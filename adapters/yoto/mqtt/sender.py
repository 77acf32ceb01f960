"""`MqttSender`: how the API publishes a command (`services.player_commands.CommandSender`).

Over the in-process listener's open connection when it has the player (no
connect, about a millisecond locally); otherwise over a short-lived connection
of its own as the player's account (connect, subscribe, publish, wait,
disconnect: what Lambda does with no listener running). A token the broker
refuses is renewed once through the shared token store (compare-and-swap, so
never a second refresh chain) and tried again; a second refusal means the link
is dead. Broker trouble is `BackendUnavailable` (503, retry later).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from adapters.yoto.mqtt.acks import send_once
from adapters.yoto.mqtt.listener import Listener
from adapters.yoto.mqtt.transport import BrokerConfig, ConnectRefused, TransportError
from core.errors import BackendUnavailable, RelinkNeeded
from core.yoto.cloud import RELINK_MESSAGE
from core.yoto.payloads import Command
from core.yoto.results import CommandResult


class AccessTokens(Protocol):
    """The part of `services.yoto_tokens.YotoTokenService` the sender needs."""

    def access_token(self, account: str) -> str: ...

    def renew_rejected(self, account: str, rejected_token: str) -> str: ...


class MqttSender:
    def __init__(
        self,
        config: BrokerConfig,
        tokens: AccessTokens,
        *,
        listener: Callable[[], Listener | None] = lambda: None,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.config = config
        self._tokens = tokens
        self._listener = listener
        self._connect_timeout_s = connect_timeout_s

    def send(self, account: str, player_id: str, command: Command, *, timeout: float) -> tuple[CommandResult, str]:
        listener = self._listener()
        if listener is not None and listener.can_send(player_id):
            try:
                return listener.send(player_id, command, timeout=timeout), "listener"
            except TransportError as exc:
                raise BackendUnavailable(f"the listener's connection to Yoto's MQTT broker failed: {exc}") from exc
        return self._send_once(account, player_id, command, timeout), "short-lived"

    def _send_once(self, account: str, player_id: str, command: Command, timeout: float) -> CommandResult:
        token = self._tokens.access_token(account)
        for attempt in range(2):
            try:
                return send_once(
                    self.config,
                    player_id,
                    command,
                    token=token,
                    timeout=timeout,
                    connect_timeout=self._connect_timeout_s,
                )
            except ConnectRefused as exc:
                if not exc.not_authorized:
                    raise BackendUnavailable(f"Yoto's MQTT broker refused the connection: {exc}") from exc
                if attempt:
                    raise RelinkNeeded(RELINK_MESSAGE) from exc
                token = self._tokens.renew_rejected(account, token)
            except TransportError as exc:
                raise BackendUnavailable(f"Yoto's MQTT broker could not be reached: {exc}") from exc
        raise AssertionError("unreachable")
