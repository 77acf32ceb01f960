"""Fixtures for the Lambda tests: the AWS adapter settings as Lambda's environment."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from core.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables a deployed function gets for `settings`."""
    env = {
        "USE_AWS": "true",
        "AWS_REGION": settings.aws_region,
        "DYNAMODB_TABLE": settings.dynamodb_table or "",
        "S3_AUDIO_BUCKET": settings.s3_audio_bucket or "",
        "COGNITO_USER_POOL_ID": settings.cognito_user_pool_id or "",
        "COGNITO_CLIENT_ID": settings.cognito_client_id or "",
        "SESSION_SECRET": settings.session_secret or "",
        "PUBLIC_URL": settings.public_url,
        "DATA_DIR": str(settings.data_dir),
    }
    return env


@pytest.fixture
def apigw() -> ModuleType:
    return importlib.import_module("tests.lambda.apigw")


@pytest.fixture
def lambda_env(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`aws_settings` put into the process environment, as Pulumi sets it on the function."""
    for key, value in settings_env(aws_settings).items():
        monkeypatch.setenv(key, value)
    return aws_settings
