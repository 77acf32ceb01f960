"""`YotoTokenService` on both records backends against the fake Yoto cloud (rotation and reuse detection on).

THE race: many callers, in several "processes" (each its own adapter set over
the same database), find the access token expired at the same moment. Exactly
one refresh may reach Yoto; everyone must get the winner's working token, and
the refresh chain must stay alive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from adapters import Adapters
from adapters.yoto.client import YotoClient
from core.errors import RelinkNeeded, UpstreamRejected
from core.ports import Records
from core.records import utcnow
from core.settings import Settings
from core.yoto.cloud import NOT_LINKED_MESSAGE, RELINK_MESSAGE, TokenGrant
from services.yoto_tokens import YotoTokenService
from simulator.cloud import RunningCloud
from tests.yoto.conftest import make_client, pkce_link

ACCOUNT = "mum"
# The race and its failure modes run on both backends; the rest of the logic does not depend on one.
local_only = pytest.mark.parametrize("backend_settings", ["local"], indirect=True)


@pytest.fixture
def records(backend_settings: Settings) -> Records:
    return Adapters(backend_settings).records


@pytest.fixture
def linked(client: YotoClient, records: Records) -> TokenGrant:
    grant = pkce_link(client)
    YotoTokenService(records.tokens, records.counters, client).store_new_link(ACCOUNT, grant)
    return grant


def _service(records: Records, client: YotoClient, **options: Any) -> YotoTokenService:
    return YotoTokenService(records.tokens, records.counters, client, **options)


def _expire(records: Records, cloud: RunningCloud) -> None:
    """Make the access token expire, here and at Yoto."""
    stored = records.tokens.get(ACCOUNT)
    records.tokens.compare_and_swap(replace(stored, expires_at=utcnow()), expected_version=stored.version)
    cloud.expire_access_tokens()


def _refreshes(cloud: RunningCloud) -> int:
    return sum(1 for r in cloud.requests("POST", "/oauth/token") if r.form().get("grant_type") == "refresh_token")


def _together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in n threads released at once; answers results (or the exceptions raised) in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.fixture
def processes(backend_settings: Settings, yoto_cloud: RunningCloud) -> Iterator[list[tuple[Records, YotoClient]]]:
    """Five independent adapter sets and clients over the same database: five processes."""
    sets = [(Adapters(backend_settings).records, make_client(yoto_cloud)) for _ in range(5)]
    yield sets
    for _, c in sets:
        c.close()


def test_fifty_callers_after_expiry_make_exactly_one_refresh(
    linked: TokenGrant,
    records: Records,
    yoto_cloud: RunningCloud,
    processes: list[tuple[Records, YotoClient]],
) -> None:
    _expire(records, yoto_cloud)
    old = records.tokens.get(ACCOUNT)
    yoto_cloud.clear_requests()
    services = [_service(r, c) for r, c in processes]

    def caller(i: int) -> tuple[str, int]:
        service = services[i % len(services)]
        token = service.access_token(ACCOUNT)
        return token, len(processes[i % len(processes)][1].list_devices(token))

    results = _together(50, caller)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    assert {n for _, n in results} == {2}, "every caller's token worked on the API"
    tokens = {t for t, _ in results}
    assert len(tokens) == 1 and old.access_token not in tokens
    assert _refreshes(yoto_cloud) == 1
    stats = yoto_cloud.stats()
    assert stats["reuse_detected"] == 0 and stats["chains_revoked"] == 0 and stats["chains_alive"] == 1
    stored = records.tokens.get(ACCOUNT)
    assert stored.version == old.version + 1 and stored.refresh_token != old.refresh_token
    assert stored.access_token in tokens

    # The chain is alive: the next expiry refreshes again, with the rotated refresh token.
    _expire(records, yoto_cloud)
    again = services[0].access_token(ACCOUNT)
    assert again not in tokens and processes[0][1].list_devices(again)
    assert _refreshes(yoto_cloud) == 2 and yoto_cloud.stats()["chains_alive"] == 1


def test_a_winner_that_died_holds_the_others_up_only_until_its_lease_ends(
    linked: TokenGrant, records: Records, client: YotoClient, yoto_cloud: RunningCloud
) -> None:
    _expire(records, yoto_cloud)
    version = records.tokens.get(ACCOUNT).version
    assert records.counters.add(f"yoto-refresh:{ACCOUNT}:{version}", 1, ttl_s=1) == 1  # taken, never finished
    service = _service(records, client, lease_s=1, wait_s=5)
    results = _together(10, lambda i: client.list_devices(service.access_token(ACCOUNT)))
    assert all(isinstance(r, list) for r in results), [r for r in results if not isinstance(r, list)][:3]
    assert _refreshes(yoto_cloud) == 1 and yoto_cloud.stats()["chains_revoked"] == 0


def _later(seconds: float) -> Callable[[], datetime]:
    return lambda: utcnow() + timedelta(seconds=seconds)


@local_only
def test_losers_keep_using_a_token_that_is_still_valid(
    linked: TokenGrant, records: Records, client: YotoClient, yoto_cloud: RunningCloud
) -> None:
    stored = records.tokens.get(ACCOUNT)
    records.counters.add(f"yoto-refresh:{ACCOUNT}:{stored.version}", 1, ttl_s=30)  # someone is renewing
    near_expiry = _later(linked.expires_in - 60)  # inside the refresh-ahead window, not expired
    assert _service(records, client, now=near_expiry).access_token(ACCOUNT) == stored.access_token
    assert _refreshes(yoto_cloud) == 0


def test_a_refused_refresh_is_relink_for_everyone_after_one_attempt(
    linked: TokenGrant, records: Records, client: YotoClient, yoto_cloud: RunningCloud
) -> None:
    assert linked.refresh_token
    client.refresh(linked.refresh_token)  # someone else used it: the stored one is now stale
    with pytest.raises(RelinkNeeded):
        client.refresh(linked.refresh_token)  # reuse: the whole chain is revoked
    _expire(records, yoto_cloud)
    yoto_cloud.clear_requests()
    service = _service(records, client)
    results = _together(20, lambda i: service.access_token(ACCOUNT))
    assert all(isinstance(r, RelinkNeeded) and str(r) == RELINK_MESSAGE for r in results), results[:3]
    assert _refreshes(yoto_cloud) == 1


@local_only
def test_refresh_ahead_of_expiry_and_no_refresh_while_valid(
    linked: TokenGrant, records: Records, client: YotoClient, yoto_cloud: RunningCloud
) -> None:
    first = _service(records, client, now=_later(linked.expires_in - 301)).access_token(ACCOUNT)
    assert first == linked.access_token and _refreshes(yoto_cloud) == 0
    renewed = _service(records, client, now=_later(linked.expires_in - 299)).access_token(ACCOUNT)
    assert renewed != first and _refreshes(yoto_cloud) == 1
    assert _service(records, client).access_token(ACCOUNT) == renewed and _refreshes(yoto_cloud) == 1


@local_only
def test_call_retries_once_after_a_401_then_says_relink(
    linked: TokenGrant, records: Records, client: YotoClient, yoto_cloud: RunningCloud
) -> None:
    service = _service(records, client)
    yoto_cloud.unauthorized_next(path_prefix="/device-v2/devices/mine")
    assert len(service.call(ACCOUNT, client.list_devices)) == 2
    assert _refreshes(yoto_cloud) == 1
    yoto_cloud.unauthorized_next(count=2, path_prefix="/content/")
    with pytest.raises(RelinkNeeded, match=RELINK_MESSAGE):
        service.call(ACCOUNT, client.get_card, "Ab3dE")
    assert _refreshes(yoto_cloud) == 2


@local_only
def test_a_401_on_a_token_someone_already_replaced_needs_no_refresh(
    linked: TokenGrant, records: Records, client: YotoClient, yoto_cloud: RunningCloud
) -> None:
    service = _service(records, client)
    _expire(records, yoto_cloud)
    new = service.access_token(ACCOUNT)
    assert service.renew_rejected(ACCOUNT, linked.access_token) == new
    assert _refreshes(yoto_cloud) == 1


@local_only
def test_link_relink_unlink(client: YotoClient, records: Records, yoto_cloud: RunningCloud) -> None:
    service = _service(records, client)
    assert not service.is_linked(ACCOUNT)
    with pytest.raises(RelinkNeeded, match=NOT_LINKED_MESSAGE):
        service.access_token(ACCOUNT)
    first = service.store_new_link(ACCOUNT, pkce_link(client))
    assert service.is_linked(ACCOUNT) and first.version == 1
    second_grant = pkce_link(client)
    second = service.store_new_link(ACCOUNT, second_grant)
    assert second.version == 2 and service.access_token(ACCOUNT) == second_grant.access_token
    assert service.unlink(ACCOUNT) is True and service.unlink(ACCOUNT) is False
    assert not service.is_linked(ACCOUNT)
    with pytest.raises(UpstreamRejected, match="offline_access"):
        service.store_new_link(ACCOUNT, TokenGrant(access_token="a", expires_in=60))
