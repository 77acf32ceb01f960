"""A thin paho-mqtt (2.x) connection: connect, subscribe, publish QoS 1, close.

One `Transport` is one connection; it never reconnects by itself, so whoever
owns it (the listener, a short-lived command, a simulated player) decides when
and with which token to try again. Blocking calls take a timeout and raise
`TransportError` subclasses; callbacks run on paho's network thread.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.settings import mqtt_alpn_problem
from core.yoto.protocol import MAX_FILTERS_PER_SUBSCRIBE, authorizer_username, client_id

log = logging.getLogger(__name__)

# CONNACK reason codes that mean "these credentials are not accepted"
_AUTH_CODES = {4, 5, 134, 135}


class TransportError(Exception):
    """The broker could not be reached or did not answer in time."""


class SubscribeRefused(TransportError):
    """The broker's SUBACK refused one or more topic filters (reason code 0x80 or above)."""

    def __init__(self, refused: list[str]) -> None:
        super().__init__(f"the broker refused the subscription to {', '.join(refused)}")
        self.refused = refused


class ConnectRefused(TransportError):
    """The broker answered CONNECT with a refusal."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(f"broker refused the connection: {reason} ({code})")
        self.code = code

    @property
    def not_authorized(self) -> bool:
        return self.code in _AUTH_CODES


@dataclass(frozen=True)
class BrokerConfig:
    host: str
    port: int
    transport: Literal["tcp", "websockets"] = "websockets"
    path: str = "/mqtt"
    tls: bool = True
    ca_file: str | None = None
    alpn: str | None = None
    authorizer: str | None = "PublicJWTAuthorizer"
    keepalive: int = 60

    def __post_init__(self) -> None:
        problem = mqtt_alpn_problem(self.transport, self.tls, self.port, self.authorizer, self.alpn)
        if problem:
            raise ValueError(problem)

    @classmethod
    def from_settings(cls, settings: Any) -> BrokerConfig:
        """From `core.settings.Settings` (MQTT_HOST … YOTO_MQTT_AUTHORIZER)."""
        return cls(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            transport=settings.mqtt_transport,
            path=settings.mqtt_path,
            tls=settings.mqtt_tls,
            ca_file=settings.mqtt_ca_file,
            alpn=settings.mqtt_alpn,
            authorizer=settings.yoto_mqtt_authorizer,
        )


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


MessageHandler = Callable[[str, bytes], None]
DisconnectHandler = Callable[[str], None]


class Transport:
    """One MQTT connection. `token` (a Yoto access token) logs in through the
    custom authorizer named in the config; without one the connection is anonymous."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        token: str | None = None,
        client_id_prefix: str = "yss",
        will: Will | None = None,
        on_message: MessageHandler | None = None,
        on_disconnect: DisconnectHandler | None = None,
    ) -> None:
        self.config = config
        self.client_id = client_id(client_id_prefix)
        self._on_message = on_message
        self._on_disconnect = on_disconnect
        self._connected = threading.Event()
        self._gone = threading.Event()
        self._gone.set()
        self._answered = threading.Event()
        self._refusal: TransportError | None = None
        self._pending: dict[int, threading.Event] = {}
        self._codes: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self._subscribed: set[str] = set()
        self._started = False

        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            transport=config.transport,
            protocol=paho.MQTTv311,
            reconnect_on_failure=False,
        )
        if config.transport == "websockets":
            client.ws_set_options(path=config.path)
        if config.tls:
            client.tls_set_context(_tls_context(config))
        if token is not None:
            username = authorizer_username(config.authorizer) if config.authorizer else client_id_prefix
            client.username_pw_set(username, token)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.on_socket_open = _no_delay
        client.on_connect = self._connected_cb
        client.on_disconnect = self._disconnected_cb
        client.on_message = self._message_cb
        client.on_subscribe = self._subscribed_cb
        client.on_unsubscribe = self._unsubscribed_cb
        self._client = client

    # ------------------------------------------------------------------ blocking API

    def connect(self, timeout: float = 10.0) -> None:
        try:
            self._client.connect(self.config.host, self.config.port, keepalive=self.config.keepalive)
        except (OSError, ValueError) as exc:  # refused, unreachable, TLS, websocket handshake
            raise TransportError(f"cannot reach {self.config.host}:{self.config.port}: {exc}") from exc
        self._client.loop_start()
        self._started = True
        if not self._answered.wait(timeout):
            self.close()
            raise TransportError(f"no CONNACK from {self.config.host}:{self.config.port} within {timeout:g} s")
        if self._refusal is not None:
            self.close()
            raise self._refusal

    def subscribe(self, topics: Iterable[str], *, qos: int = 1, timeout: float = 5.0) -> list[str]:
        """Subscribe to the topics not yet subscribed on this connection, at most
        `MAX_FILTERS_PER_SUBSCRIBE` to a SUBSCRIBE; returns those. Every SUBACK
        reason code is read: a refused filter raises `SubscribeRefused` (the
        filters the broker granted stay subscribed)."""
        with self._lock:
            new = [t for t in dict.fromkeys(topics) if t not in self._subscribed]
        refused: list[str] = []
        for start in range(0, len(new), MAX_FILTERS_PER_SUBSCRIBE):
            batch = new[start : start + MAX_FILTERS_PER_SUBSCRIBE]
            result, mid = self._client.subscribe([(t, qos) for t in batch])
            codes = self._wait(result, mid, timeout, "SUBACK")
            for topic, code in zip(batch, codes, strict=False):
                if code >= 0x80:
                    refused.append(topic)
                else:
                    with self._lock:
                        self._subscribed.add(topic)
            if len(codes) != len(batch):
                raise TransportError(f"the SUBACK answered {len(codes)} filters of {len(batch)}")
        if refused:
            raise SubscribeRefused(refused)
        return new

    def unsubscribe(self, topics: Iterable[str], *, timeout: float = 5.0) -> None:
        with self._lock:
            gone = [t for t in dict.fromkeys(topics) if t in self._subscribed]
            self._subscribed.difference_update(gone)
        for start in range(0, len(gone), MAX_FILTERS_PER_SUBSCRIBE):
            result, mid = self._client.unsubscribe(gone[start : start + MAX_FILTERS_PER_SUBSCRIBE])
            self._wait(result, mid, timeout, "UNSUBACK")

    @property
    def subscriptions(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._subscribed)

    def publish(
        self, topic: str, payload: bytes | str = b"", *, qos: int = 1, retain: bool = False, timeout: float | None = 5.0
    ) -> None:
        """Publish; with a timeout, wait for the broker's PUBACK (QoS 1). From inside
        a message callback pass `timeout=None`: the PUBACK arrives on that very thread."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise TransportError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        if qos and timeout is not None:
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                raise TransportError(f"publish to {topic} failed: {exc}") from exc
            if not info.is_published():
                raise TransportError(f"no PUBACK for {topic} within {timeout:g} s")

    def close(self) -> None:
        """A clean DISCONNECT (no last will), then stop the network thread."""
        if self._connected.is_set():
            self._client.disconnect()
        if self._started:
            self._client.loop_stop()
            self._started = False
        self._connected.clear()
        self._gone.set()

    def drop(self) -> None:
        """Lose the connection without DISCONNECT, as a dead player or a cut network
        does: the broker then publishes the last will."""
        sock = self._client.socket()
        if sock is not None:
            try:
                raw = socket.socket(fileno=sock.fileno())  # the kernel socket, even under websockets/TLS
                raw.shutdown(socket.SHUT_RDWR)
                raw.detach()
            except OSError:
                pass
        if self._started:
            self._client.loop_stop()
            self._started = False
        self._connected.clear()
        self._gone.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_disconnected(self, timeout: float | None = None) -> bool:
        """Block until the connection is gone (True) or the timeout passes (False)."""
        return self._gone.wait(timeout)

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ paho callbacks

    def _wait(self, result: int, mid: int | None, timeout: float, what: str) -> list[int]:
        """Block until the broker acknowledges `mid`; its reason codes (SUBACK)."""
        if result != paho.MQTT_ERR_SUCCESS or mid is None:
            raise TransportError(f"{what} request failed: {paho.error_string(result)}")
        event = self._pending.setdefault(mid, threading.Event())
        if not event.wait(timeout):
            self._pending.pop(mid, None)
            self._codes.pop(mid, None)
            raise TransportError(f"no {what} within {timeout:g} s")
        self._pending.pop(mid, None)
        if mid not in self._codes and not self._connected.is_set():
            raise TransportError(f"the connection was lost before the {what}")
        return self._codes.pop(mid, [])

    def _subscribed_cb(self, _client: paho.Client, _userdata: Any, mid: int, codes: Any = (), *_rest: Any) -> None:
        self._codes[mid] = [int(getattr(c, "value", c)) for c in codes or ()]
        self._pending.setdefault(mid, threading.Event()).set()  # _wait may not have registered yet

    def _unsubscribed_cb(self, _client: paho.Client, _userdata: Any, mid: int, *_rest: Any) -> None:
        self._codes[mid] = []
        self._pending.setdefault(mid, threading.Event()).set()

    def _connected_cb(self, _c: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._refusal = ConnectRefused(str(reason), int(reason.value))
        else:
            self._gone.clear()
            self._connected.set()
        self._answered.set()

    def _disconnected_cb(self, _c: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was_connected = self._connected.is_set()
        if not was_connected and not self._answered.is_set():
            # closed before any CONNACK (a broker or proxy ending the connection): fail now, not at the timeout
            self._refusal = TransportError(f"the broker closed the connection before answering CONNECT ({reason})")
            self._answered.set()
        self._connected.clear()
        self._gone.set()
        with self._lock:
            self._subscribed.clear()
        for event in list(self._pending.values()):
            event.set()  # whoever waits for a SUBACK learns now that none will come
        if was_connected and self._on_disconnect is not None:
            self._on_disconnect(str(reason))

    def _message_cb(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            self._on_message(message.topic, message.payload)
        except Exception:  # a handler bug must not kill paho's network thread
            log.exception("MQTT message handler failed on %s", message.topic)


def _tls_context(config: BrokerConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.ca_file)
    if config.alpn:
        context.set_alpn_protocols([config.alpn])
    return context


def _no_delay(_client: paho.Client, _userdata: Any, sock: Any) -> None:
    """TCP_NODELAY on the kernel socket (under websockets paho hands us a wrapper):
    without it each small websocket frame waits ~40 ms for a delayed ACK."""
    try:
        raw = socket.socket(fileno=sock.fileno())
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        finally:
            raw.detach()
    except OSError as exc:
        log.debug("could not set TCP_NODELAY: %s", exc)
