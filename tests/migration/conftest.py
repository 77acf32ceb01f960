"""Fixtures of the migration tests: a populated local install and the AWS side on moto."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from tests.migration.install import Install, cli_env, populate


@pytest.fixture
def install(tmp_path: Path) -> Install:
    settings = Settings(use_aws=False, data_dir=tmp_path / "laptop", tts_engine="espeak")
    return populate(settings)


@pytest.fixture
def env(install: Install, aws_settings: Settings) -> dict[str, str]:
    return cli_env(install.settings, aws_settings)
