"""The app starts on both backends and imports no backend library up front."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adapters import Adapters
from core.errors import ConfigError
from core.settings import Settings


def test_health_reports_backend(backend_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    import app.deps
    from app.main import create_app

    adapters = Adapters(backend_settings)
    monkeypatch.setattr(app.deps, "get_adapters", lambda: adapters)
    body = TestClient(create_app()).get("/api/health").json()
    assert body["status"] == "ok"
    assert body["backend"] == ("aws" if backend_settings.use_aws else "local")
    assert body["version"]


def test_importing_the_app_loads_no_backend_library() -> None:
    code = (
        "import sys, app.main, app.routers.health;"
        "print(','.join(m for m in ('boto3','botocore','sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_use_aws_without_table_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="DYNAMODB_TABLE"):
        Adapters(Settings(use_aws=True, session_secret="x" * 40))


def test_unwritable_data_dir_names_the_variable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(ConfigError, match="DATA_DIR"):
        Adapters(Settings(data_dir=blocker / "sub"))
