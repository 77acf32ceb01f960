"""Fixtures for any test that needs the fake Yoto cloud (a real HTTP server on 127.0.0.1).

Use them from a conftest or a test module:

    from tests.yoto_sim import yoto_cloud, yoto_cloud_env  # noqa: F401

`yoto_cloud` is a fresh in-process cloud per test (`RunningCloud`: inspect
and inject faults in Python); `yoto_cloud_env` is the same with
YOTO_API_URL, YOTO_AUTH_URL and YOTO_CLIENT_ID set for the service;
`yoto_cloud_process` runs `python -m simulator` as its own process for the
whole session and yields a `RemoteCloud` (reset before each use).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simulator.cloud import RemoteCloud, RunningCloud, start_cloud
from tests.servers import free_port, stop, wait_http

ROOT = Path(__file__).resolve().parents[1]
# Fast enough for tests, still a real interval: polling faster than this gets slow_down.
TEST_DEVICE_INTERVAL_S = 0.5


@pytest.fixture
def yoto_cloud() -> Iterator[RunningCloud]:
    with start_cloud(access_ttl_s=3600, device_interval_s=TEST_DEVICE_INTERVAL_S) as cloud:
        yield cloud


@pytest.fixture
def yoto_cloud_env(yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch) -> RunningCloud:
    for name, value in yoto_cloud.env().items():
        monkeypatch.setenv(name, value)
    return yoto_cloud


@contextmanager
def cloud_process(log_dir: Path, *args: str) -> Iterator[RemoteCloud]:
    """`python -m simulator` on a free port; stopped by its PID."""
    port = free_port()
    log = open(log_dir / f"yoto-sim-{port}.log", "wb")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "simulator", "--port", str(port), *args]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_sim/health")
        yield RemoteCloud(url)
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def yoto_cloud_process_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteCloud]:
    with cloud_process(tmp_path_factory.mktemp("yoto-sim"), "--device-interval", str(TEST_DEVICE_INTERVAL_S)) as cloud:
        yield cloud


@pytest.fixture
def yoto_cloud_process(yoto_cloud_process_session: RemoteCloud) -> RemoteCloud:
    yoto_cloud_process_session.reset()
    return yoto_cloud_process_session
