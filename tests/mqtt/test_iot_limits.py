"""AWS IoT Core's subscription limits, held by the proxy in front of mosquitto, and
the transport living within them: at most 8 filters a SUBSCRIBE, 50 a connection,
every SUBACK code read, and a connection ended before CONNACK noticed at once."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from adapters.yoto.mqtt.transport import BrokerConfig, SubscribeRefused, Transport, TransportError
from core.errors import ConfigError
from core.settings import Settings
from core.yoto.protocol import subscribe_topics
from tests.brokers import Mosquitto


def wait_until(check: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.mark.parametrize("kind", ["tcp", "websockets"])
def test_a_subscribe_of_nine_filters_ends_the_connection(fresh_mosquitto: Mosquitto, kind: str) -> None:
    transport = Transport(fresh_mosquitto.config(kind))
    transport.connect(5)
    try:
        transport._client.subscribe([(f"device/p{i}/data/events", 1) for i in range(9)])  # one packet, past the limit
        wait_until(lambda: not transport.connected)
        assert fresh_mosquitto.refusals == ["9 topic filters in one SUBSCRIBE (at most 8)"]
    finally:
        transport.close()


@pytest.mark.parametrize("kind", ["tcp", "websockets"])
def test_the_transport_subscribes_eight_at_a_time_and_fifty_a_connection(fresh_mosquitto: Mosquitto, kind: str) -> None:
    transport = Transport(fresh_mosquitto.config(kind))
    transport.connect(5)
    try:
        twenty = [f"device/p{i}/data/events" for i in range(20)]
        assert transport.subscribe(twenty) == twenty  # three SUBSCRIBEs: 8, 8, 4
        transport.unsubscribe(twenty[:10])
        transport.subscribe([f"device/q{i}/data/events" for i in range(40)])  # 50 in all again: allowed
        assert transport.connected and len(transport.subscriptions) == 50
        with pytest.raises(TransportError):
            transport.subscribe(["device/one-too-many/data/events"])
        wait_until(lambda: not transport.connected)
        assert fresh_mosquitto.refusals == ["51 subscriptions on one connection (at most 50)"]
    finally:
        transport.close()


def test_every_suback_code_is_read(fresh_mosquitto: Mosquitto) -> None:
    fresh_mosquitto.refuse_subscriptions("device/locked/")
    delivered: list[str] = []
    transport = Transport(fresh_mosquitto.config("tcp"), on_message=lambda topic, _payload: delivered.append(topic))
    transport.connect(5)
    publisher = Transport(fresh_mosquitto.config("tcp"))
    publisher.connect(5)
    try:
        with pytest.raises(SubscribeRefused) as refused:
            transport.subscribe([*subscribe_topics("open"), "device/locked/data/events"])
        assert refused.value.refused == ["device/locked/data/events"]
        assert "device/open/presence" in transport.subscriptions
        assert "device/locked/data/events" not in transport.subscriptions
        publisher.publish("device/locked/data/events", b"{}")
        publisher.publish("device/open/data/events", b"{}")
        wait_until(lambda: "device/open/data/events" in delivered)
        assert "device/locked/data/events" not in delivered  # the broker never subscribed it
    finally:
        publisher.close()
        transport.close()


def test_a_broker_that_closes_before_connack_is_a_transport_error_at_once() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def close_each() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(1024)
            conn.close()

    threading.Thread(target=close_each, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(TransportError, match="closed the connection"):
            Transport(BrokerConfig("127.0.0.1", port, "tcp", tls=False, authorizer=None)).connect(10)
        assert time.monotonic() - started < 2  # not the 10 s connect timeout
    finally:
        server.close()


def test_raw_mqtt_on_443_with_the_custom_authorizer_needs_alpn_mqtt(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MQTT_ALPN=mqtt"):
        BrokerConfig("iot.example", 443, "tcp", alpn="x-amzn-mqtt-ca")
    assert BrokerConfig("iot.example", 443, "tcp", alpn="mqtt").alpn == "mqtt"
    assert BrokerConfig("iot.example", 443, "websockets").alpn is None
    settings = Settings(data_dir=tmp_path, session_secret="x" * 40, mqtt_transport="tcp", yoto_client_id="c")
    with pytest.raises(ConfigError, match="MQTT_ALPN=mqtt"):
        settings.validate_for("mqtt")
    settings.model_copy(update={"mqtt_alpn": "mqtt"}).validate_for("mqtt")
