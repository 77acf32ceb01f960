"""Shared fixtures: a real moto server for the AWS side, a data dir for the local side.

`backend_settings` is parametrised over both sides; a test (or a contract
fixture built on it) that takes it runs once per backend with the ids
`local` and `aws`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters import reset_adapters
from core.settings import Settings
from tests.servers import moto_reset, moto_server

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
