"""Retries, give-up and error mapping, with faults injected by the fake Yoto cloud."""

from __future__ import annotations

import time

import pytest

from adapters.yoto.client import YotoClient
from core.errors import RateLimited, UpstreamError, UpstreamTimeout
from core.yoto import AccessTokenRejected
from simulator.cloud import RunningCloud
from tests.servers import free_port
from tests.yoto.conftest import make_client

DEVICES = "/device-v2/devices/mine"


def _hits(cloud: RunningCloud, path: str = DEVICES) -> list[int]:
    return [r.status for r in cloud.requests("GET", path)]


def test_429_is_retried_after_retry_after(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.rate_limit_next(count=2, retry_after=0.3, path_prefix=DEVICES)
    started = time.monotonic()
    assert client.list_devices(token)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.6, f"Retry-After 0.3 s twice, yet done in {elapsed:.2f} s"
    assert _hits(yoto_cloud) == [429, 429, 200]


def test_5xx_is_retried_with_backoff(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.server_error_next(count=2, status=503, path_prefix=DEVICES)
    assert client.list_devices(token)
    assert _hits(yoto_cloud) == [503, 503, 200]


def test_persistent_5xx_gives_up_after_bounded_tries(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.server_error_next(count=50, status=502, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as failed:
        client.list_devices(token)
    assert time.monotonic() - started < 2
    assert not isinstance(failed.value, UpstreamTimeout)
    assert "list the players" in str(failed.value) and "502" in str(failed.value) and "4 tries" in str(failed.value)
    assert _hits(yoto_cloud) == [502] * client.max_tries


def test_persistent_429_is_rate_limited_with_retry_after(yoto_cloud: RunningCloud, token: str) -> None:
    client = make_client(yoto_cloud, max_wait_s=1.0)
    yoto_cloud.rate_limit_next(count=50, retry_after=0.4, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(RateLimited) as limited:
        client.list_devices(token)
    waited = time.monotonic() - started
    assert 0.8 <= waited < 1.5, "two waits of 0.4 s fit the 1 s budget, a third does not"
    assert limited.value.headers == {"Retry-After": "1"}
    assert _hits(yoto_cloud) == [429, 429, 429]
    client.close()


def test_a_retry_after_beyond_the_budget_gives_up_at_once(yoto_cloud: RunningCloud, token: str) -> None:
    client = make_client(yoto_cloud, max_wait_s=2.0)
    yoto_cloud.rate_limit_next(count=1, retry_after=30, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(RateLimited) as limited:
        client.list_devices(token)
    assert time.monotonic() - started < 0.5
    assert limited.value.headers == {"Retry-After": "30"} and "30 s" in str(limited.value)
    client.close()


def test_timeout_maps_to_upstream_timeout_without_retrying(yoto_cloud: RunningCloud, token: str) -> None:
    client = make_client(yoto_cloud, timeout_s=0.3)
    yoto_cloud.slow_next(count=5, delay_s=1.0, path_prefix=DEVICES)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="did not answer in time"):
        client.list_devices(token)
    assert time.monotonic() - started < 0.9
    client.close()


def test_401_maps_to_access_token_rejected(client: YotoClient, yoto_cloud: RunningCloud, token: str) -> None:
    yoto_cloud.unauthorized_next(path_prefix=DEVICES)
    with pytest.raises(AccessTokenRejected):
        client.list_devices(token)
    assert client.list_devices(token), "only the injected answer was a 401"
    with pytest.raises(AccessTokenRejected):
        client.list_devices("not-a-token")


def test_dropped_connection_and_nothing_listening_are_upstream_errors(
    client: YotoClient, yoto_cloud: RunningCloud, token: str
) -> None:
    yoto_cloud.disconnect_next(path_prefix=DEVICES)
    with pytest.raises(UpstreamError, match="connection to Yoto failed"):
        client.list_devices(token)
    dead = f"http://127.0.0.1:{free_port()}"
    nowhere = YotoClient(api_url=dead, auth_url=dead, client_id="x", backoff_s=0.01, max_backoff_s=0.02)
    with pytest.raises(UpstreamError, match="after 4 tries: could not connect"):
        nowhere.list_devices(token)
    nowhere.close()


def test_retry_after_as_http_date_and_jitter_bounds(yoto_cloud: RunningCloud) -> None:
    import httpx

    from adapters.yoto.client import _retry_after

    future = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert (_retry_after(future) or 0) > 3600
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    low = make_client(yoto_cloud, backoff_s=1.0, max_backoff_s=4.0, jitter=lambda: 0.0)
    high = make_client(yoto_cloud, backoff_s=1.0, max_backoff_s=4.0, jitter=lambda: 1.0)
    assert [low._delay(n, None) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert [high._delay(n, None) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    low.close()
    high.close()
