"""Linking a Yoto account by device code, on the memory records and the in-process Yoto cloud:
the poll interval, Yoto's slow_down, expiry and refusal on manual clocks instead of sleeps."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from adapters.memory import MemoryRecords
from core.errors import Conflict
from core.records import User
from services.yoto_link import LinkRules, YotoLink
from services.yoto_tokens import YotoTokenService
from tests.conftest import ManualClock
from tests.yoto_inprocess import BASE_URL, InProcessCloud

MUM, KID = User("mum", is_admin=True, id="mum"), User("kid", id="kid")
INTERVAL_S = 5.0
RULES = LinkRules(public_url="https://family.example", allow_http=False, client_configured=True, login_ttl_s=600)


@pytest.fixture
def cloud() -> InProcessCloud:
    return InProcessCloud(access_ttl_s=3600, device_interval_s=INTERVAL_S)


@pytest.fixture
def records(cloud: InProcessCloud) -> MemoryRecords:
    return MemoryRecords(clock=cloud.now)


def _link(
    cloud: InProcessCloud, records: MemoryRecords, clock: ManualClock | None = None, rules: LinkRules = RULES
) -> YotoLink:
    client = cloud.client()
    now = clock.now if clock else cloud.now
    tokens = YotoTokenService(records.tokens, records.counters, client, now=now, sleep=cloud.advance)
    return YotoLink(client, tokens, records.tokens, records.settings, records.counters, rules, now=now)


@pytest.fixture
def link(cloud: InProcessCloud, records: MemoryRecords) -> YotoLink:
    """Our side on the cloud's clock: both move together."""
    return _link(cloud, records)


def _polls(cloud: InProcessCloud) -> list[dict[str, str]]:
    """What was sent to Yoto's token endpoint with a device code."""
    forms = [r.form() for r in cloud.requests("POST", "/oauth/token")]
    return [f for f in forms if f.get("grant_type", "").endswith("device_code")]


def _decided(cloud: InProcessCloud, link: YotoLink, *, approve: bool) -> None:
    """Mum starts a device login, approves or refuses it on Yoto's page, and the interval passes."""
    started = link.start_device_login(MUM)
    (cloud.approve_device if approve else cloud.deny_device)(started.user_code)
    cloud.advance(started.interval)


def _device_code(records: MemoryRecords, member: str = "mum") -> str:
    return str(records.settings.get(f"yoto-device:{member}")["device_code"])


def test_a_poll_too_soon_for_yoto_gets_slow_down_and_the_wider_interval_is_kept(
    cloud: InProcessCloud, records: MemoryRecords, link: YotoLink
) -> None:
    started = link.start_device_login(MUM)
    assert started.interval == INTERVAL_S
    cloud.advance(INTERVAL_S)
    # Someone else polls with the same code first, so ours comes too soon for Yoto.
    with httpx.Client(transport=cloud.transport) as other:
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": _device_code(records)}
        assert other.post(f"{BASE_URL}/oauth/token", data={**form, "client_id": cloud.client_id}).status_code == 403
    slowed = link.poll_device_login(MUM)
    assert (slowed.status, slowed.interval) == ("pending", INTERVAL_S + 5)
    assert len(_polls(cloud)) == 2 and _polls(cloud)[-1]["device_code"] == _device_code(records)
    cloud.advance(INTERVAL_S)  # the old interval is no longer enough: answered here, Yoto is not asked
    early = link.poll_device_login(MUM)
    assert early.status == "pending" and 0 < (early.interval or 0) <= 5
    assert len(_polls(cloud)) == 2
    cloud.advance(5)
    asked, too_soon = link.poll_device_login(MUM), link.poll_device_login(MUM)
    assert (asked.status, asked.interval) == ("pending", INTERVAL_S + 5) and too_soon.status == "pending"
    assert len(_polls(cloud)) == 3  # once the wider interval passed Yoto was asked, and not again right after
    assert link.status(MUM).device_login_pending and not link.status(MUM).linked


def test_an_approved_code_links_the_member_once(cloud: InProcessCloud, link: YotoLink) -> None:
    _decided(cloud, link, approve=True)
    assert link.poll_device_login(MUM).status == "linked"
    status = link.status(MUM)
    assert status.linked and not status.device_login_pending
    asked = len(_polls(cloud))
    cloud.advance(INTERVAL_S)
    gone = link.poll_device_login(MUM)  # the login is over: said here, Yoto is not asked
    assert (gone.status, gone.detail) == ("expired", "no device login is waiting: start one")
    assert len(_polls(cloud)) == asked


def test_a_code_yoto_says_has_expired_ends_the_login(cloud: InProcessCloud, records: MemoryRecords) -> None:
    """Yoto's clock ran past the code's life while ours did not (its expiry is Yoto's to say)."""
    ours = ManualClock(cloud.now())
    link = _link(cloud, records, ours)
    started = link.start_device_login(MUM)
    cloud.advance(started.expires_in + 1)
    ours.advance(INTERVAL_S)
    expired = link.poll_device_login(MUM)
    assert expired.status == "expired" and expired.detail == "the code expired before it was approved: start again"
    assert len(_polls(cloud)) == 1 and not link.status(MUM).device_login_pending
    assert not link.status(MUM).linked


def test_a_login_past_its_life_here_is_over_without_asking_yoto(cloud: InProcessCloud, link: YotoLink) -> None:
    started = link.start_device_login(MUM)
    cloud.advance(started.expires_in)
    gone = link.poll_device_login(MUM)
    assert (gone.status, gone.detail) == ("expired", "no device login is waiting: start one")
    assert _polls(cloud) == [] and not link.status(MUM).device_login_pending


def test_a_refused_code_says_so_and_links_nobody(cloud: InProcessCloud, link: YotoLink) -> None:
    _decided(cloud, link, approve=False)
    refused = link.poll_device_login(MUM)
    assert (refused.status, refused.detail) == ("expired", "the login was refused on Yoto's page: start again")
    assert not link.status(MUM).linked and not link.status(MUM).device_login_pending


def test_a_device_login_is_its_members_own(cloud: InProcessCloud, link: YotoLink) -> None:
    _decided(cloud, link, approve=True)
    theirs = link.poll_device_login(KID)
    assert (theirs.status, theirs.detail) == ("expired", "no device login is waiting: start one")
    assert _polls(cloud) == [] and not link.status(KID).linked
    assert link.poll_device_login(MUM).status == "linked"
    assert link.status(MUM).linked and not link.status(KID).linked


def test_no_client_id_is_a_conflict_that_names_the_setting(cloud: InProcessCloud, records: MemoryRecords) -> None:
    link = _link(cloud, records, rules=replace(RULES, client_configured=False))
    with pytest.raises(Conflict, match="YOTO_CLIENT_ID"):
        link.start_device_login(MUM)
    assert cloud.requests() == [] and not link.status(MUM).device_login_pending
