"""The app under a real uvicorn process on 127.0.0.1, configured by a
`Settings` object: for tests that need real HTTP and real concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.settings import Settings
from tests.servers import free_port, stop, wait_http

ROOT = Path(__file__).resolve().parents[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that make `load_settings()` equal `settings`."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, bool):
            env[name.upper()] = "true" if value else "false"
        elif isinstance(value, list | dict):
            env[name.upper()] = json.dumps(value)
        else:
            env[name.upper()] = str(value)
    return env


@contextmanager
def live_app(settings: Settings, log_dir: Path, *, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Serve the app with `settings` (PUBLIC_URL is set to the server's own
    origin); yields the base URL, stops the server by its PID afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **settings_env(settings.model_copy(update={"public_url": base})), "PYTHONUNBUFFERED": "1"}
    if not settings.use_aws:
        env.pop("AWS_ENDPOINT_URL", None)
    log = (log_dir / f"uvicorn-{port}.log").open("wb")
    cmd = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port), *extra_args]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_http(f"{base}/api/health", timeout=90)  # a loaded machine starts slowly
        yield base
    finally:
        stop(proc)
        log.close()
