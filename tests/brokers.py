"""A real mosquitto for the tests: TCP and WebSockets listeners on 127.0.0.1,
anonymous clients allowed, stopped by PID, restartable on the same ports, with
AWS IoT Core's subscription limits in front (`simulator.iot_limits`): clients
reach `tcp_port` and `ws_port`, the proxies; mosquitto itself listens on `raw_*`.

Use the `mosquitto` fixture (one broker per test session; tests keep apart by
player ids) or `fresh_mosquitto` (a broker of its own, for tests that stop or
restart it). Outside pytest (bench scripts, `make demo`): `run_mosquitto()`.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.yoto.mqtt.transport import BrokerConfig
from simulator.iot_limits import LimitingProxy
from tests.servers import free_port, stop

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class Mosquitto:
    """One mosquitto process and the two ports it keeps across restarts."""

    workdir: Path
    tcp_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    raw_tcp_port: int = field(default_factory=free_port)
    raw_ws_port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    acl: str | None = None  # a mosquitto ACL file's text (e.g. to refuse a subscription)
    users: dict[str, str] | None = None  # username → password; None: anonymous
    tls: bool = False  # a third listener: MQTT over TLS with a self-signed certificate
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _ready: threading.Event = field(default_factory=threading.Event, repr=False)
    # Held while a process is started, stopped or sent SIGHUP: a reload from another
    # thread (the token stand-in) never signals a process that is still starting.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ready_at: float = field(default=0.0, repr=False)
    refusals: list[str] = field(default_factory=list)  # what the limiting proxies refused, oldest first
    _proxies: list[LimitingProxy] = field(default_factory=list, repr=False)

    @property
    def ca_file(self) -> str:
        """The self-signed certificate a TLS client must trust (`tls=True`)."""
        return str(self.workdir / "cert.pem")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def config(self, transport: str = "tcp") -> BrokerConfig:
        """How a client reaches this broker: `tcp`, `websockets` or `tls` (TCP + TLS);
        no authorizer (the test sets one with `dataclasses.replace` when it wants it)."""
        if transport == "tls":
            return BrokerConfig(self.host, self.tls_port, "tcp", tls=True, ca_file=self.ca_file, authorizer=None)
        if transport == "tcp":
            return BrokerConfig(self.host, self.tcp_port, "tcp", tls=False, authorizer=None)
        return BrokerConfig(self.host, self.ws_port, "websockets", path="/mqtt", tls=False, authorizer=None)

    def start(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._start(timeout)

    def _start(self, timeout: float) -> None:
        if self.pid is not None:
            return
        conf = self.workdir / "mosquitto.conf"
        lines = [
            "per_listener_settings false",
            f"user {getpass.getuser()}",  # as root, mosquitto would switch to a user who cannot read tmp files
            "persistence false",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            f"listener {self.raw_tcp_port} {self.host}",
            "protocol mqtt",
            f"listener {self.raw_ws_port} {self.host}",
            "protocol websockets",
        ]
        if self.acl is not None:
            (self.workdir / "acl").write_text(self.acl)
            lines.append(f"acl_file {self.workdir / 'acl'}")
        if self.users is None:
            lines.insert(1, "allow_anonymous true")
        else:
            lines[1:1] = ["allow_anonymous false", f"password_file {self._password_file()}"]
        if self.tls:
            self._certificate()
            key = self.workdir / "key.pem"
            lines += [f"listener {self.tls_port} {self.host}", f"certfile {self.ca_file}", f"keyfile {key}"]
        conf.write_text("\n".join(lines) + "\n")
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        ports = [self.raw_tcp_port, self.raw_ws_port] + ([self.tls_port] if self.tls else [])
        while not all(_listening(self.host, port) for port in ports):
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mosquitto did not open its ports in time")
            time.sleep(0.02)
        if not self._proxies:
            self._proxies = [
                LimitingProxy(self.raw_tcp_port, self.tcp_port, host=self.host, refusals=self.refusals),
                LimitingProxy(self.raw_ws_port, self.ws_port, host=self.host, refusals=self.refusals),
            ]
        for proxy in self._proxies:
            proxy.start()
        self._ready_at = time.monotonic()
        self._ready.set()

    def _password_file(self) -> Path:
        path = self.workdir / "passwords"
        path.write_text("")
        for user, password in (self.users or {}).items():
            subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True, capture_output=True)
        return path

    def _certificate(self) -> None:
        if (self.workdir / "key.pem").exists():
            return
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                f"/CN={self.host}",
                "-addext",
                f"subjectAltName=IP:{self.host}",
                "-keyout",
                str(self.workdir / "key.pem"),
                "-out",
                self.ca_file,
            ],
            check=True,
            capture_output=True,
        )

    def refuse_subscriptions(self, prefix: str) -> None:
        """From now on, SUBACK 0x80 for topic filters starting with `prefix` (plain MQTT;
        as a broker's policy refuses them), and the broker never sees them."""
        for proxy in self._proxies:
            proxy.refused_prefixes.add(prefix)

    def stop(self) -> None:
        """SIGTERM by PID (clients see the connection drop), SIGKILL if it lingers."""
        with self._lock:
            self._ready.clear()
            for proxy in self._proxies:
                proxy.stop()
            proc, self.proc = self.proc, None
            if proc is not None:
                stop(proc)

    def reload_users(self, users: dict[str, str]) -> None:
        """Replace the password file and have mosquitto re-read it (SIGHUP), without a restart."""
        import os
        import signal

        # A SIGHUP before mosquitto has set up its handlers (just after it opens its
        # ports) would end it: only a process `start` has finished with, 0.1 s after
        # that; a process started meanwhile reads the new file itself.
        self._ready.wait(10)
        with self._lock:
            self.users = dict(users)
            self._password_file()
            if self.proc is None or not self._ready.is_set():
                return
            time.sleep(max(0.0, self._ready_at + 0.1 - time.monotonic()))
            os.kill(self.proc.pid, signal.SIGHUP)
        time.sleep(0.2)

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
def run_mosquitto(
    workdir: Path, *, users: dict[str, str] | None = None, tls: bool = False, acl: str | None = None
) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        raise RuntimeError("mosquitto is not installed: run scripts/system-deps.sh")
    broker = Mosquitto(workdir, users=users, tls=tls, acl=acl)
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
