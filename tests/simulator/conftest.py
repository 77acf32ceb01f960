"""Fixtures for the simulator's own tests: a fresh cloud, an httpx client on it, a linked account."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from simulator.cloud import RunningCloud
from tests import yoto_sim

yoto_cloud = yoto_sim.yoto_cloud
yoto_cloud_env = yoto_sim.yoto_cloud_env
yoto_cloud_process = yoto_sim.yoto_cloud_process
yoto_cloud_process_session = yoto_sim.yoto_cloud_process_session


@pytest.fixture
def http(yoto_cloud: RunningCloud) -> Iterator[httpx.Client]:
    # Plain http to 127.0.0.1: skipping the CA bundle saves ~50 ms per test.
    with httpx.Client(base_url=yoto_cloud.url, timeout=10, follow_redirects=False, verify=False) as client:
        yield client


@pytest.fixture
def auth(yoto_cloud: RunningCloud) -> dict[str, str]:
    """Authorization headers of a freshly linked account."""
    return {"Authorization": f"Bearer {yoto_cloud.issue_tokens()['access_token']}"}
