"""The paho wrapper against real mosquitto: the authorizer's login shape, TLS with
a CA file, ALPN, TCP_NODELAY, subscriptions without duplicates, a broker going away."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.yoto.mqtt.transport import BrokerConfig, ConnectRefused, Transport, TransportError
from core.settings import Settings
from core.yoto.protocol import authorizer_username
from tests.brokers import Mosquitto, run_mosquitto
from tests.servers import free_port

TOKEN = "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"


def test_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BrokerConfig.from_settings(Settings()) == BrokerConfig(
        Settings().mqtt_host, 443, "websockets", "/mqtt", tls=True, authorizer="PublicJWTAuthorizer"
    )
    for key, value in {
        "MQTT_HOST": "127.0.0.1",
        "MQTT_PORT": "1883",
        "MQTT_TRANSPORT": "tcp",
        "MQTT_TLS": "false",
        "MQTT_CA_FILE": "/etc/ca.pem",
        "MQTT_ALPN": "x-amzn-mqtt-ca",
        "YOTO_MQTT_AUTHORIZER": "OtherAuthorizer",
        "MQTT_ENABLED": "false",
    }.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert BrokerConfig.from_settings(settings) == BrokerConfig(
        "127.0.0.1",
        1883,
        "tcp",
        "/mqtt",
        tls=False,
        ca_file="/etc/ca.pem",
        alpn="x-amzn-mqtt-ca",
        authorizer="OtherAuthorizer",
    )
    assert settings.mqtt_enabled is False


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A broker that only lets in the authorizer-shaped username with the right token, and speaks TLS."""
    users = {authorizer_username("PublicJWTAuthorizer"): TOKEN}
    with run_mosquitto(tmp_path_factory.mktemp("secured"), users=users, tls=True) as broker:
        yield broker


@pytest.mark.parametrize("kind", ["tcp", "websockets", "tls"])
def test_the_access_token_logs_in_through_the_authorizer(secured: Mosquitto, kind: str) -> None:
    config = replace(secured.config(kind), authorizer="PublicJWTAuthorizer")
    with Transport(config, token=TOKEN) as transport:
        transport.connect()
        assert transport.connected
        assert transport.client_id.isalnum()
    with pytest.raises(ConnectRefused) as refused:
        Transport(config, token="expired-token").connect()
    assert refused.value.not_authorized
    with pytest.raises(ConnectRefused):
        Transport(replace(config, authorizer="SomeOtherAuthorizer"), token=TOKEN).connect()


def test_tls_needs_the_right_ca(secured: Mosquitto) -> None:
    config = replace(secured.config("tls"), authorizer="PublicJWTAuthorizer")
    got: list[bytes] = []
    done = threading.Event()
    with Transport(config, token=TOKEN, on_message=lambda t, p: (got.append(p), done.set())) as transport:
        transport.connect()
        transport.subscribe(["device/x/data/events"])
        transport.publish("device/x/data/events", b"{}")
        assert done.wait(3) and got == [b"{}"]
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        Transport(replace(config, ca_file=None), token=TOKEN).connect()


def test_alpn_is_offered_when_configured(secured: Mosquitto, tmp_path: Path) -> None:
    """A bare TLS server on 127.0.0.1 records the protocol the client offered."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(secured.ca_file, str(Path(secured.ca_file).with_name("key.pem")))
    server_ctx.set_alpn_protocols(["x-amzn-mqtt-ca"])
    port = free_port()
    seen: list[str | None] = []
    with socket.create_server(("127.0.0.1", port)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen.append(tls.selected_alpn_protocol())

        thread = threading.Thread(target=serve)
        thread.start()
        config = BrokerConfig("127.0.0.1", port, "tcp", tls=True, ca_file=secured.ca_file, alpn="x-amzn-mqtt-ca")
        with pytest.raises(TransportError):
            Transport(config, token=TOKEN).connect(timeout=2)
        thread.join(5)
    assert seen == ["x-amzn-mqtt-ca"]


@pytest.mark.parametrize("kind", ["tcp", "websockets"])
def test_no_delay_and_no_duplicate_subscriptions(mosquitto: Mosquitto, kind: str) -> None:
    with Transport(mosquitto.config(kind)) as transport:
        transport.connect()
        sock = transport._client.socket()
        assert sock is not None
        raw = socket.socket(fileno=sock.fileno())
        try:
            assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            raw.detach()
        assert transport.subscribe(["a/1", "a/2", "a/1"]) == ["a/1", "a/2"]
        assert transport.subscribe(["a/2", "a/3"]) == ["a/3"]


def test_an_unreachable_broker_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="cannot reach"):
        Transport(BrokerConfig("127.0.0.1", free_port(), "tcp", tls=False)).connect(timeout=2)


def test_a_broker_restart_is_seen_as_a_disconnect(fresh_mosquitto: Mosquitto) -> None:
    reasons: list[str] = []
    transport = Transport(fresh_mosquitto.config("tcp"), on_disconnect=reasons.append)
    transport.connect()
    transport.subscribe(["a/#"])
    fresh_mosquitto.restart()
    assert transport.wait_disconnected(5)
    assert len(reasons) == 1 and not transport.connected
    with pytest.raises(TransportError):
        transport.publish("a/1", b"x")
    transport.close()
    again = Transport(fresh_mosquitto.config("tcp"))
    again.connect()
    assert again.subscribe(["a/#"]) == ["a/#"]
    again.close()
