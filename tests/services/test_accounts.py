"""A member's account on the identity side (`services.accounts`): looking a member up,
the password policy, the last-admin rule and which changes end the member's sessions."""

from __future__ import annotations

import pytest

from adapters.memory import MemoryRecords
from core.errors import Conflict, Invalid, NotFound
from core.records import Session
from services import accounts
from tests.services.fakes import FakeIdentity
from tests.services.test_users import _session


def _live(records: MemoryRecords, session: Session) -> bool:
    try:
        return records.sessions.get(session.id) == session
    except NotFound:
        return False


def test_get_user_finds_a_member_by_any_case_and_names_an_unknown_one(identity: FakeIdentity) -> None:
    assert accounts.get_user(identity, "Kid").username == "kid"
    with pytest.raises(NotFound, match=r"^no user grandpa$"):
        accounts.get_user(identity, "grandpa")


def test_an_unknown_member_is_not_found_and_no_session_is_touched(
    identity: FakeIdentity, memory_records: MemoryRecords
) -> None:
    mum = _session(memory_records, "mum")
    with pytest.raises(NotFound, match="no user grandpa"):
        accounts.set_account(identity, memory_records.sessions, "grandpa", password="a long enough passphrase")
    assert _live(memory_records, mum)


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short", "at least 12 characters"),
        ("x" * 257, "at most 256 characters"),
        (" leading space pass", "must not start or end with whitespace"),
        ("trailing tab pass\t", "must not start or end with whitespace"),
    ],
)
def test_a_password_against_the_policy_is_refused_and_changes_nothing(
    identity: FakeIdentity, memory_records: MemoryRecords, password: str, words: str
) -> None:
    kid = _session(memory_records, "kid")
    with pytest.raises(Invalid, match=words):
        accounts.set_account(identity, memory_records.sessions, "kid", password=password)
    assert identity.passwords["kid"] == "purple monkey dishwasher"
    assert _live(memory_records, kid)


def test_the_policy_takes_twelve_characters_and_inner_spaces(identity: FakeIdentity) -> None:
    accounts.check_policy("x" * 12)
    accounts.check_policy("a b c d e f g")
    with pytest.raises(Invalid, match="at least 12"):
        accounts.check_policy("x" * 11)


def test_a_new_password_is_set_and_ends_only_that_members_sessions(
    identity: FakeIdentity, memory_records: MemoryRecords
) -> None:
    kid, mum = _session(memory_records, "kid"), _session(memory_records, "mum")
    user = accounts.set_account(identity, memory_records.sessions, "kid", password="a fresh passphrase")
    assert user.username == "kid" and not user.is_admin
    assert identity.authenticate("kid", "a fresh passphrase") == user
    assert identity.authenticate("kid", "purple monkey dishwasher") is None
    assert not _live(memory_records, kid)
    assert _live(memory_records, mum)


def test_disabling_a_member_ends_their_sessions_and_a_role_change_keeps_them(
    identity: FakeIdentity, memory_records: MemoryRecords
) -> None:
    kid = _session(memory_records, "kid")
    promoted = accounts.set_account(identity, memory_records.sessions, "kid", is_admin=True)
    assert promoted.is_admin and _live(memory_records, kid)
    disabled = accounts.set_account(identity, memory_records.sessions, "kid", disabled=True)
    assert disabled.disabled and identity.get_user("kid").disabled
    assert not _live(memory_records, kid)


@pytest.mark.parametrize("change", [{"is_admin": False}, {"disabled": True}])
def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(
    identity: FakeIdentity, memory_records: MemoryRecords, change: dict
) -> None:
    mum = _session(memory_records, "mum")
    with pytest.raises(Conflict, match=r"^mum is the last admin: make another admin first$"):
        accounts.set_account(identity, memory_records.sessions, "mum", **change)
    assert identity.get_user("mum").is_admin and not identity.get_user("mum").disabled
    assert _live(memory_records, mum)


def test_a_disabled_admin_does_not_count_as_another_admin(
    identity: FakeIdentity, memory_records: MemoryRecords
) -> None:
    identity.create_user("dad", "another long passphrase", is_admin=True)
    accounts.set_account(identity, memory_records.sessions, "dad", disabled=True)
    with pytest.raises(Conflict, match="mum is the last admin"):
        accounts.set_account(identity, memory_records.sessions, "mum", is_admin=False)
    accounts.set_account(identity, memory_records.sessions, "dad", disabled=False)
    assert not accounts.set_account(identity, memory_records.sessions, "mum", is_admin=False).is_admin
    with pytest.raises(Conflict, match="dad is the last admin"):
        accounts.set_account(identity, memory_records.sessions, "dad", disabled=True)


def test_the_last_admin_may_still_change_their_password_and_stay_admin(
    identity: FakeIdentity, memory_records: MemoryRecords
) -> None:
    user = accounts.set_account(
        identity, memory_records.sessions, "mum", password="a new family passphrase", is_admin=True, disabled=False
    )
    assert user.is_admin and not user.disabled
    assert identity.authenticate("mum", "a new family passphrase") == user


def test_a_member_who_is_not_an_admin_is_never_the_last_admin(
    identity: FakeIdentity, memory_records: MemoryRecords
) -> None:
    kid = identity.get_user("kid")
    assert not accounts.is_last_admin(identity, kid)
    assert accounts.is_last_admin(identity, identity.get_user("mum"))
    assert accounts.set_account(identity, memory_records.sessions, "kid", is_admin=False, disabled=True).disabled


class _RefusingIdentity(FakeIdentity):
    """An identity side that refuses a value with ValueError, or loses the member between the read and the write."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def update_user(self, username: str, **changes: object) -> object:
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected", "words"),
    [
        (ValueError("the pool refuses this password"), Invalid, "^the pool refuses this password$"),
        (NotFound("gone"), NotFound, "^no user kid$"),
    ],
)
def test_the_identity_sides_refusals_become_domain_errors_and_keep_the_sessions(
    memory_records: MemoryRecords, error: Exception, expected: type[Exception], words: str
) -> None:
    identity = _RefusingIdentity(error)
    identity.create_user("kid", "purple monkey dishwasher")
    kid = _session(memory_records, "kid")
    with pytest.raises(expected, match=words):
        accounts.set_account(identity, memory_records.sessions, "kid", password="a long enough passphrase")
    assert _live(memory_records, kid)
