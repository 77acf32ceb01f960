"""Linking a member's Yoto account, on the memory records and the in-process Yoto cloud."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.memory import MemoryRecords
from core.errors import Forbidden
from core.records import User
from services.yoto_link import LinkRules, YotoLink
from services.yoto_tokens import YotoTokenService
from tests.yoto_inprocess import InProcessCloud

MUM = User("mum", is_admin=True, id="mum")
KID = User("kid", id="kid")


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud(access_ttl_s=3600)


@pytest.fixture
def records(cloud: InProcessCloud) -> MemoryRecords:
    return MemoryRecords(clock=cloud.now)


@pytest.fixture
def link(cloud: InProcessCloud, records: MemoryRecords) -> Iterator[YotoLink]:
    client = cloud.client()
    tokens = YotoTokenService(records.tokens, records.counters, client, now=cloud.now, sleep=cloud.advance)
    rules = LinkRules(public_url="https://family.example", allow_http=False, client_configured=True, login_ttl_s=600)
    yield YotoLink(client, tokens, records.tokens, records.settings, records.counters, rules, now=cloud.now)
    client.close()


def _approve(cloud: InProcessCloud, url: str) -> dict[str, str]:
    """The browser's trip to Yoto's authorize page (auto-approved), through the same transport."""
    with httpx.Client(transport=cloud.transport, follow_redirects=False) as browser:
        answer = browser.get(url)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def test_a_login_links_the_member_and_its_state_works_once(cloud: InProcessCloud, link: YotoLink) -> None:
    back = _approve(cloud, link.start_login(MUM))
    assert back["code"] and link.status(MUM).login_pending
    assert link.finish_login(MUM, state=back["state"], code=back["code"], error=None) is None
    status = link.status(MUM)
    assert status.linked and not status.login_pending
    exchanges = len(cloud.requests("POST", "/oauth/token"))
    with pytest.raises(Forbidden):
        link.finish_login(MUM, state=back["state"], code=back["code"], error=None)
    assert len(cloud.requests("POST", "/oauth/token")) == exchanges  # refused before any code exchange


def test_another_members_state_is_refused_and_links_nobody(cloud: InProcessCloud, link: YotoLink) -> None:
    back = _approve(cloud, link.start_login(MUM))
    with pytest.raises(Forbidden):
        link.finish_login(KID, state=back["state"], code=back["code"], error=None)
    assert not link.status(KID).linked and not link.status(MUM).linked


def test_an_expired_login_is_refused(cloud: InProcessCloud, link: YotoLink) -> None:
    back = _approve(cloud, link.start_login(MUM))
    cloud.advance(601)
    with pytest.raises(Forbidden):
        link.finish_login(MUM, state=back["state"], code=back["code"], error=None)
    assert cloud.requests("POST", "/oauth/token") == []


def test_a_device_login_asks_yoto_at_most_once_per_interval(cloud: InProcessCloud, link: YotoLink) -> None:
    started = link.start_device_login(MUM)
    assert started.user_code and started.interval > 0
    assert link.poll_device_login(MUM).status == "pending"  # too soon: Yoto is not asked
    assert cloud.requests("POST", "/oauth/token") == []
    cloud.advance(started.interval)
    assert link.poll_device_login(MUM).status == "pending"
    assert len(cloud.requests("POST", "/oauth/token")) == 1


def test_unlink_forgets_the_tokens_once(cloud: InProcessCloud, link: YotoLink) -> None:
    back = _approve(cloud, link.start_login(MUM))
    link.finish_login(MUM, state=back["state"], code=back["code"], error=None)
    assert link.unlink(MUM) is True
    assert not link.status(MUM).linked
    assert link.unlink(MUM) is False
