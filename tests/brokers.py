"""A real mosquitto for the tests: TCP and WebSockets listeners on 127.0.0.1,
anonymous clients allowed, stopped by PID, restartable on the same ports.

Use the `mosquitto` fixture (one broker per test session; tests keep apart by
player ids) or `fresh_mosquitto` (a broker of its own, for tests that stop or
restart it). Outside pytest (bench scripts, `make demo`): `run_mosquitto()`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mqtt.transport import BrokerConfig
from tests.servers import free_port, stop

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class Mosquitto:
    """One mosquitto process and the two ports it keeps across restarts."""

    workdir: Path
    tcp_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def config(self, transport: str = "tcp") -> BrokerConfig:
        """How a client reaches this broker (no TLS, no authorizer)."""
        if transport == "tcp":
            return BrokerConfig(self.host, self.tcp_port, "tcp", tls=False, authorizer=None)
        return BrokerConfig(self.host, self.ws_port, "websockets", path="/mqtt", tls=False, authorizer=None)

    def start(self, timeout: float = 10.0) -> None:
        if self.pid is not None:
            return
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            "per_listener_settings false\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\n"
            f"listener {self.tcp_port} {self.host}\nprotocol mqtt\n"
            f"listener {self.ws_port} {self.host}\nprotocol websockets\n"
        )
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while not (_listening(self.host, self.tcp_port) and _listening(self.host, self.ws_port)):
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mosquitto did not open its ports in time")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM by PID (clients see the connection drop), SIGKILL if it lingers."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop(proc)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down `down_s` seconds, start again on the same ports."""
        self.stop()
        if down_s:
            time.sleep(down_s)
        self.start()


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@contextmanager
def run_mosquitto(workdir: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        raise RuntimeError("mosquitto is not installed: run scripts/system-deps.sh")
    broker = Mosquitto(workdir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with run_mosquitto(tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


@pytest.fixture
def fresh_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    with run_mosquitto(tmp_path) as broker:
        yield broker
