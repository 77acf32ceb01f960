"""Bearer URLs stay out of the logs (issue 18, finding 7): stream tokens, OAuth
`code`/`state` and signed query strings, in uvicorn's access log as `make run`
starts it and as `make demo` starts it (`uvicorn app.main:app`, no log flags),
and in the JSON request lines written on Lambda."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.http.logging import JsonFormatter
from core.settings import Settings
from tests.api.conftest import make_api
from tests.conftest import TEST_SECRET
from tests.live_server import live_app
from tests.uvicorn_server import make_run_server

SECRETS = ("TOKENSECRET", "SIGSECRET", "CODESECRET", "STATESECRET", "EXPSECRET")
BEARING = [
    ("/s/TOKENSECRET.SIGSECRET.mp3", "/s/[token]"),
    ("/api/yoto/callback?code=CODESECRET&state=STATESECRET", "/api/yoto/callback?[query]"),
    ("/api/storage/blob/audio/x.mp3?exp=EXPSECRET&sig=SIGSECRET", "/api/storage/blob/audio/x.mp3?[query]"),
]


def _ask_all(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        for path, _ in BEARING:
            assert c.get(path).status_code < 500


def _assert_redacted(log: str) -> None:
    assert not [s for s in SECRETS if s in log], log
    for _, shown in BEARING:
        assert f'"GET {shown} HTTP/1.1"' in log, log  # the request is still logged, its target redacted


def test_make_run_access_log_has_no_bearer_urls(tmp_path: Path) -> None:
    with make_run_server(tmp_path / "data", {"SESSION_SECRET": TEST_SECRET, "MQTT_ENABLED": "false"}) as server:
        _ask_all(server.url)
    _assert_redacted(server.log.read_text())  # read after the process ended: its output is flushed


def test_make_demo_access_log_has_no_bearer_urls(tmp_path: Path) -> None:
    settings = Settings(use_aws=False, data_dir=tmp_path / "data", session_secret=TEST_SECRET, mqtt_enabled=False)
    with live_app(settings, tmp_path) as base:
        _ask_all(base)
    (log,) = tmp_path.glob("uvicorn-*.log")
    _assert_redacted(log.read_text())


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Root logging as `configure_logging` sets it on Lambda, into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_lambda_request_lines_have_no_bearer_urls(
    local_settings: Settings, json_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client = make_api(local_settings, monkeypatch, tmp_path).client(origin=None)
    for path, _ in BEARING:
        client.get(path)
    client.close()
    # The test's own client (httpx, or httpx2 where that is installed) logs the URLs it asked for:
    # the server's lines are the rest.
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    server = [line for line in lines if line["logger"].split(".")[0] not in ("httpx", "httpx2")]
    paths = [line["path"] for line in server if line["message"] == "request"]
    assert paths == ["/s/[token]", "/api/yoto/callback", "/api/storage/blob/audio/x.mp3"], lines
    assert not [s for s in SECRETS if s in json.dumps(server)]
