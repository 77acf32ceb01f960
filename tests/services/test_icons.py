"""The public icon catalogue over the in-process Yoto cloud: one load per TTL, on a manual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.yoto.client import YotoClient
from core.yoto.cloud import AccessTokenRejected
from services.icons import IconCatalog
from tests.yoto_inprocess import InProcessCloud

TTL_S, RETRY_S = 3600.0, 60.0


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud()


@pytest.fixture
def client(cloud: InProcessCloud) -> Iterator[YotoClient]:
    c = cloud.client(max_tries=1)
    yield c
    c.close()


def _loads(cloud: InProcessCloud) -> int:
    return len(cloud.requests("GET", "/media/displayIcons/user/yoto"))


def test_the_list_is_loaded_once_per_ttl_and_serves_every_account(cloud: InProcessCloud, client: YotoClient) -> None:
    clock = Clock()
    catalog = IconCatalog(client, ttl_s=TTL_S, retry_s=RETRY_S, clock=clock)
    mum, kid = (str(cloud.issue_tokens(account)["access_token"]) for account in ("mum", "kid"))
    found = catalog.search(mum, "")
    assert found and catalog.search(kid, "") == found
    assert _loads(cloud) == 1
    clock.t = TTL_S + 1
    catalog.search(kid, "")
    assert _loads(cloud) == 2


def test_a_failed_reload_serves_the_older_list_and_tries_again_after_the_retry_wait(
    cloud: InProcessCloud, client: YotoClient
) -> None:
    clock = Clock()
    catalog = IconCatalog(client, ttl_s=TTL_S, retry_s=RETRY_S, clock=clock)
    token = str(cloud.issue_tokens()["access_token"])
    first = catalog.search(token, "")
    clock.t = TTL_S + 1
    cloud.revoke_access_tokens()  # the reload is refused
    assert catalog.search(token, "") == first
    tried = _loads(cloud)
    clock.t += RETRY_S / 2
    catalog.search(token, "")
    assert _loads(cloud) == tried  # inside the retry wait: Yoto is not asked
    clock.t += RETRY_S
    fresh = str(cloud.issue_tokens()["access_token"])
    assert catalog.search(fresh, "") == first
    assert _loads(cloud) == tried + 1


def test_no_list_at_hand_and_a_failed_load_is_an_error(cloud: InProcessCloud, client: YotoClient) -> None:
    catalog = IconCatalog(client, clock=Clock())
    token = str(cloud.issue_tokens()["access_token"])
    cloud.revoke_access_tokens()
    with pytest.raises(AccessTokenRejected):
        catalog.search(token, "fox")
