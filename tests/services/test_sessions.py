"""Login sessions on the memory records: a signed cookie naming a server-side record."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.memory import MemoryRecords
from core.errors import Unauthenticated
from services import sessions
from services.members import Members
from tests.services.fakes import FakeIdentity

KEY = secrets.token_bytes(32)
DAY = 24 * 3600


@pytest.fixture
def members(memory_records: MemoryRecords) -> Members:
    return Members(memory_records)


def _log_in(records: MemoryRecords, members: Members, identity: FakeIdentity, name: str) -> str:
    _, cookie = sessions.log_in(records.sessions, members, KEY, identity.get_user(name), max_age_s=DAY)
    return cookie


def test_a_cookie_names_its_live_session_and_its_member(
    memory_records: MemoryRecords, members: Members, identity: FakeIdentity
) -> None:
    cookie = _log_in(memory_records, members, identity, "kid")
    sid = sessions.session_id(KEY, cookie)
    assert sid and cookie.startswith(sid + ".")
    user = sessions.user_of(memory_records.sessions, identity, members, sid)
    assert (user.username, user.id, user.is_admin) == ("kid", "kid", False)
    assert _log_in(memory_records, members, identity, "kid") != cookie  # a fresh id at every login


@pytest.mark.parametrize("cookie", [None, "", "nodot", ".sig", "x" * 300, "abc.forged"])
def test_unsigned_forged_and_oversized_cookies_name_no_session(cookie: str | None) -> None:
    assert sessions.session_id(KEY, cookie) is None


def test_a_cookie_signed_with_another_key_names_no_session(
    memory_records: MemoryRecords, members: Members, identity: FakeIdentity
) -> None:
    cookie = _log_in(memory_records, members, identity, "kid")
    assert sessions.session_id(secrets.token_bytes(32), cookie) is None


def test_logout_revokes_and_is_idempotent(
    memory_records: MemoryRecords, members: Members, identity: FakeIdentity
) -> None:
    sid = sessions.session_id(KEY, _log_in(memory_records, members, identity, "kid"))
    sessions.end(memory_records.sessions, sid)
    sessions.end(memory_records.sessions, sid)
    with pytest.raises(Unauthenticated, match="expired or revoked"):
        sessions.user_of(memory_records.sessions, identity, members, sid)
    with pytest.raises(Unauthenticated, match="not logged in"):
        sessions.user_of(memory_records.sessions, identity, members, None)


def test_a_disabled_user_and_a_later_member_of_the_name_are_refused(
    memory_records: MemoryRecords, members: Members, identity: FakeIdentity
) -> None:
    sid = sessions.session_id(KEY, _log_in(memory_records, members, identity, "kid"))
    identity.update_user("kid", disabled=True)
    with pytest.raises(Unauthenticated, match="disabled"):
        sessions.user_of(memory_records.sessions, identity, members, sid)
    later = memory_records.sessions.get(sid).created_at + timedelta(seconds=1)
    identity.users["kid"] = replace(identity.users["kid"], disabled=False, created_at=later)
    with pytest.raises(Unauthenticated, match="expired or revoked"):  # the session belongs to an earlier member
        sessions.user_of(memory_records.sessions, identity, members, sid)


def test_a_member_being_deleted_gets_no_session(
    memory_records: MemoryRecords, members: Members, identity: FakeIdentity
) -> None:
    members.gone(members.current("kid"))
    with pytest.raises(Unauthenticated):
        _log_in(memory_records, members, identity, "kid")
