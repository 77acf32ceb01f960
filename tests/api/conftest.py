"""The API under test on both adapter sets: a TestClient over `create_app()`
whose adapter set is built from `backend_settings` (ids `[local]`/`[aws]`).

Clients talk to `http://127.0.0.1:8000` (the settings' PUBLIC_URL) so the
session cookie is not marked Secure and httpx sends it back over plain http,
and they send that origin as `Origin` like a well-behaved non-browser client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters import Adapters
from core.records import AudioItem, new_id, utcnow
from core.settings import Settings

BASE_URL = "http://127.0.0.1:8000"
ORIGIN = BASE_URL
ADMIN = ("mum", "correct horse battery staple")
MEMBER = ("kid", "purple monkey dishwasher")

# Small limits so the tests reach them quickly; the window is short enough to
# wait out in a test.
TEST_LIMITS: dict[str, Any] = {
    "login_max_failures": 3,
    "login_max_failures_per_address": 4,
    "login_window_s": 6,  # long enough for a few argon2 checks on a loaded machine
    "tts_max_chars": 200,
    "tts_daily_chars": 300,
    "max_upload_mb": 1,
}


@dataclass
class Api:
    """The app, its adapters, and a way to get clients (each with its own cookies)."""

    adapters: Adapters
    app: Any
    scratch_root: Path
    clients: list[TestClient] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.adapters.settings

    def client(self, *, origin: str | None = ORIGIN, base_url: str = BASE_URL, address: str = "10.0.0.1") -> TestClient:
        headers = {"Origin": origin} if origin else {}
        c = TestClient(self.app, base_url=base_url, headers=headers, follow_redirects=False, client=(address, 50000))
        self.clients.append(c)
        return c

    def login(self, who: tuple[str, str] = ADMIN, **kwargs: Any) -> TestClient:
        c = self.client(**kwargs)
        r = c.post("/api/auth/login", json={"username": who[0], "password": who[1]})
        assert r.status_code == 200, r.text
        return c

    def add_item(self, *, owner: str = ADMIN[0], title: str = "a song", data: bytes | None = None) -> AudioItem:
        """An item placed straight into storage + records (for tests of what
        happens after ingest: listing, streaming, deleting)."""
        item_id = new_id()
        key = f"audio/{item_id}.mp3"
        payload = data if data is not None else b"\xff\xfb\x90\x00" + bytes(range(256)) * 40
        info = self.adapters.storage.put_bytes(key, payload, "audio/mpeg")
        item = AudioItem(
            id=item_id,
            owner=owner,
            title=title,
            storage_key=key,
            size_bytes=info.size,
            duration_s=1.0,
            created_at=utcnow(),
        )
        self.adapters.records.audio.add(item)
        return item


def make_api(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Api:
    import tempfile

    import app.deps
    from app.main import create_app

    if settings.use_aws:
        # Lambda's /tmp, private to this test so leftovers can be counted.
        scratch_root = tmp_path / "lambda-tmp"
        scratch_root.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    else:
        scratch_root = Path(settings.data_dir) / "tmp"
    adapters = Adapters(settings)
    monkeypatch.setattr(app.deps, "get_adapters", lambda: adapters)
    adapters.identity.create_user(ADMIN[0], ADMIN[1], is_admin=True)
    adapters.identity.create_user(MEMBER[0], MEMBER[1], is_admin=False)
    return Api(adapters=adapters, app=create_app(), scratch_root=scratch_root)


@pytest.fixture
def api_settings(backend_settings: Settings) -> Settings:
    return backend_settings.model_copy(update=TEST_LIMITS)


@pytest.fixture
def api(api_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Api]:
    built = make_api(api_settings, monkeypatch, tmp_path)
    yield built
    for c in built.clients:
        c.close()


def stored_keys(adapters: Adapters) -> list[str]:
    """Every object in audio storage (files on disk, or keys in the bucket)."""
    settings = adapters.settings
    if settings.use_aws:
        from adapters.aws.clients import client

        s3 = client(settings, "s3")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_audio_bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
    root = Path(settings.data_dir) / "audio"
    if not root.exists():
        return []
    # Hidden files are the local store's own (content-type sidecars, temp parts).
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def leftover_files(adapters: Adapters) -> list[Path]:
    """Every file under the local audio store, hidden ones included."""
    root = Path(adapters.settings.data_dir) / "audio"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def scratch_files(api: Api) -> list[Path]:
    """Files or directories left in the app's scratch area."""
    return list(api.scratch_root.rglob("*")) if api.scratch_root.exists() else []


def assert_nothing_left(api: Api) -> None:
    """No record, no stored object, no scratch file."""
    assert api.adapters.records.audio.list(limit=10).items == []
    assert stored_keys(api.adapters) == []
    assert leftover_files(api.adapters) == []
    assert scratch_files(api) == []


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated test audio is kept for the session (see audio_files.py)."""
    return tmp_path_factory.mktemp("api-audio")
