"""The app under uvicorn as `make run` starts it (tests/uvicorn_server.py), with
an admin and a member already made: for findings that need a login over real
HTTP, and the server's PID to read its memory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adapters import Adapters
from core.settings import Settings
from tests.api.conftest import ADMIN, MEMBER
from tests.conftest import TEST_SECRET
from tests.uvicorn_server import Server, make_run_server

# Linking can start without a Yoto round trip: these only make Yoto's login URL.
YOTO_LOGIN_ONLY = {
    "YOTO_CLIENT_ID": "test-client",
    "YOTO_AUTH_URL": "http://127.0.0.1:9",
    "YOTO_API_URL": "http://127.0.0.1:9",
}


@dataclass
class FamilyServer:
    server: Server
    adapters: Adapters
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        c = httpx.Client(base_url=self.url, headers={"Origin": self.url}, timeout=120)
        self.clients.append(c)
        return c

    def login(self, who: tuple[str, str] = ADMIN) -> httpx.Client:
        c = self.client()
        r = c.post("/api/auth/login", json={"username": who[0], "password": who[1]})
        assert r.status_code == 200, r.text
        return c


@contextmanager
def family_server(root: Path, env: Mapping[str, str] | None = None) -> Iterator[FamilyServer]:
    data = root / "data"
    settings = Settings(use_aws=False, data_dir=data, session_secret=TEST_SECRET, tts_engine="espeak")
    adapters = Adapters(settings)
    adapters.identity.create_user(ADMIN[0], ADMIN[1], is_admin=True)
    adapters.identity.create_user(MEMBER[0], MEMBER[1])
    full_env = {"SESSION_SECRET": TEST_SECRET, "MQTT_ENABLED": "false", **(env or {})}
    with make_run_server(data, full_env) as server:
        family = FamilyServer(server, adapters)
        try:
            yield family
        finally:
            for c in family.clients:
                c.close()
