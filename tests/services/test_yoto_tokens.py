"""The Yoto token service on the memory records and the in-process Yoto cloud: the
simulator's clock, not the wall clock, decides when a token has expired."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.memory import MemoryRecords
from adapters.yoto.client import YotoClient
from core.errors import RelinkNeeded
from core.yoto.cloud import TokenGrant
from services.yoto_tokens import YotoTokenService
from tests.yoto_inprocess import InProcessCloud

HOUR = 3600


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud(access_ttl_s=HOUR)


@pytest.fixture
def client(cloud: InProcessCloud) -> Iterator[YotoClient]:
    c = cloud.client()
    yield c
    c.close()


@pytest.fixture
def tokens(cloud: InProcessCloud, client: YotoClient) -> YotoTokenService:
    records = MemoryRecords(clock=cloud.now)
    return YotoTokenService(records.tokens, records.counters, client, now=cloud.now, sleep=cloud.advance)


def _linked(cloud: InProcessCloud, tokens: YotoTokenService, account: str = "mum") -> TokenGrant:
    answer = cloud.issue_tokens()
    grant = TokenGrant(answer["access_token"], int(answer["expires_in"]), answer["refresh_token"])
    tokens.store_new_link(account, grant)
    return grant


def test_a_valid_token_is_used_as_it_is_and_one_near_expiry_is_refreshed_once(
    cloud: InProcessCloud, tokens: YotoTokenService
) -> None:
    first = _linked(cloud, tokens).access_token
    assert tokens.access_token("mum") == first
    assert cloud.stats()["refreshes"] == 0
    cloud.advance(HOUR - 60)  # inside the refresh-ahead window (5 minutes)
    renewed = tokens.access_token("mum")
    assert renewed != first and cloud.token_info(renewed) is not None
    assert tokens.access_token("mum") == renewed
    assert cloud.stats()["refreshes"] == 1


def test_a_401_is_answered_by_one_refresh_and_the_call_goes_through(
    cloud: InProcessCloud, tokens: YotoTokenService, client: YotoClient
) -> None:
    _linked(cloud, tokens)
    cloud.revoke_access_tokens()
    devices = tokens.call("mum", client.list_devices)
    assert devices and cloud.stats()["refreshes"] == 1


def test_a_refresh_token_yoto_refuses_means_relink_and_is_not_tried_again(
    cloud: InProcessCloud, tokens: YotoTokenService, client: YotoClient
) -> None:
    grant = _linked(cloud, tokens)
    assert grant.refresh_token
    client.refresh(grant.refresh_token)  # used elsewhere: Yoto rotated it, so the stored one is spent
    cloud.advance(HOUR + 1)
    with pytest.raises(RelinkNeeded):
        tokens.access_token("mum")
    sent = len(cloud.requests("POST", "/oauth/token"))
    assert sent == 2  # ours, and the one that spent the token before
    with pytest.raises(RelinkNeeded):
        tokens.access_token("mum")
    assert len(cloud.requests("POST", "/oauth/token")) == sent


def test_nothing_linked_is_relink_without_a_call_to_yoto(cloud: InProcessCloud, tokens: YotoTokenService) -> None:
    with pytest.raises(RelinkNeeded):
        tokens.access_token("kid")
    assert cloud.requests() == []
