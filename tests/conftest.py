"""Shared fixtures: a real moto server for the AWS side, a data dir for the local side,
and the in-memory records and storage for fast service tests.

`backend_settings` is parametrised over both sides; a test (or a contract
fixture built on it) that takes it runs once per backend with the ids
`local` and `aws`. `memory_records` and `memory_storage` are the in-memory
fakes (`adapters/memory/`), proven by the records and storage contract suites
as `[memory]`; `manual_clock` is a clock a test moves on by hand, for
`MemoryRecords(clock=manual_clock.now)` / `MemoryStorage(clock=manual_clock.time)`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters import reset_adapters
from core.settings import Settings
from tests.servers import moto_reset, moto_server

if TYPE_CHECKING:
    from adapters.memory import MemoryRecords, MemoryStorage

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_REGION": "eu-west-2",
}
TEST_SECRET = "test-session-secret-not-for-production-0123456789"


@pytest.fixture(scope="session", autouse=True)
def _aws_actions_within_iam_policy() -> Iterator[None]:
    """Fails the run if an adapter called an AWS action the IAM policy lacks."""
    from tests.aws_calls import allowed_actions, install_recorder

    seen: set[str] = set()
    undo = install_recorder(seen)
    yield
    undo()
    outside = sorted(seen - allowed_actions())
    assert not outside, f"adapters called AWS actions missing from adapters/aws/permissions.py: {outside}"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def aws_settings(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Settings for the AWS adapters against a freshly reset moto server, with
    the table, bucket and user pool created as the Pulumi program would."""
    from adapters.aws.bootstrap import create_resources

    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    moto_reset(moto_endpoint)
    base = Settings(use_aws=True, aws_region=AWS_ENV["AWS_REGION"], data_dir=tmp_path)
    res = create_resources(base)
    return res.settings_for(base, session_secret=TEST_SECRET, public_url="http://127.0.0.1:8000")


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return Settings(use_aws=False, data_dir=tmp_path / "data", session_secret=TEST_SECRET, tts_engine="espeak")


@pytest.fixture(params=["local", "aws"])
def backend_settings(request: pytest.FixtureRequest) -> Settings:
    """Settings for one backend; every test using it runs on both sides."""
    return request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture(autouse=True)
def _fresh_adapters() -> Iterator[None]:
    reset_adapters()
    yield
    reset_adapters()


class ManualClock:
    """A clock that stands still until `advance` moves it (thread-safe)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def time(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def memory_records() -> MemoryRecords:
    """An empty in-memory `Records` on the real clock."""
    from adapters.memory import MemoryRecords

    return MemoryRecords()


@pytest.fixture
def memory_storage() -> MemoryStorage:
    """An empty in-memory `AudioStorage` on the real clock."""
    from adapters.memory import MemoryStorage

    return MemoryStorage()
