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
from typing import TYPE_CHECKING, Any

import pytest

from adapters import reset_adapters
from core.settings import Settings
from tests.servers import moto_reset, moto_server
from tests.tiers import ORDER, group_of, runs_on_aws, tier_of, unit_guard

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


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks every item with its file's tier and xdist group (tests/tiers.py), slow tiers first;
    drops the [aws] variants of the local-only suites but those AWS_ONLY names.
    A file no tier covers runs last, unmarked, and fails tests/test_tiers.py."""
    dropped = [item for item in items if _backend(item) == "aws" and not runs_on_aws(item.nodeid)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = {id(item) for item in dropped}
        items[:] = [item for item in items if id(item) not in gone]
    rank: dict[str, int] = {}
    for item in items:
        tier = tier_of(item.path)
        item.add_marker(pytest.mark.xdist_group(group_of(item.path)))
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
        rank[item.nodeid] = ORDER.index(tier) if tier else len(ORDER)
    items.sort(key=lambda item: rank[item.nodeid])


def _backend(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("backend_settings") if callspec else None


@pytest.fixture(autouse=True)
def _unit_tier_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """A unit test that opens a socket or starts a process fails (tests/tiers.py)."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    with unit_guard():
        yield


@pytest.fixture(autouse=True)
def _cheap_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the contract tier, argon2 hashes in-process with minimal cost (microseconds
    instead of ~0.1-0.3 s a hash or check). The production parameters, and the upgrade of
    weaker hashes to them, are proven by tests/contract/test_hasher.py and test_identity.py."""
    if request.node.get_closest_marker("contract") is not None:
        return
    import argon2

    monkeypatch.setattr(argon2, "PasswordHasher", _CheapPasswordHasher)


def _cheap_hasher_class() -> type:
    import argon2

    class CheapPasswordHasher(argon2.PasswordHasher):
        def __init__(self, time_cost: int = 1, memory_cost: int = 8, parallelism: int = 1, **kwargs: Any) -> None:
            super().__init__(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, **kwargs)

    return CheapPasswordHasher


_CheapPasswordHasher = _cheap_hasher_class()


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_loader() -> Iterator[None]:
    """Every boto3 client of the run reads the service models through one botocore loader.

    The adapters make a fresh `boto3.session.Session()` per client (once per Lambda
    container in production), so each client parsed its model files again: ~0.3 s a
    client, several per AWS test. The loader only caches files; what a client does
    is unchanged."""
    import botocore.loaders
    import botocore.session

    shared = botocore.loaders.create_loader()
    original = botocore.session.Session._register_data_loader

    def register(self: botocore.session.Session) -> None:
        self._components.lazy_register_component("data_loader", lambda: shared)

    botocore.session.Session._register_data_loader = register  # type: ignore[method-assign]
    yield
    botocore.session.Session._register_data_loader = original  # type: ignore[method-assign]


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
