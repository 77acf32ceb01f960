"""Migration records at sign-in, on the memory records: a carried-over password and a reset code."""

from __future__ import annotations

import pytest

from adapters.hashing import Argon2Hasher
from adapters.memory import MemoryRecords
from core.errors import Forbidden, NotFound
from services import password_fallback as fb
from tests.services.fakes import FakeIdentity

OLD = "the password from the laptop install"
NEW = "a brand new password for aws"


@pytest.fixture
def fallbacks(memory_records: MemoryRecords) -> fb.Fallbacks:
    return fb.Fallbacks(memory_records.fallbacks, Argon2Hasher())


def test_a_migrated_password_signs_in_once_then_becomes_the_password(
    identity: FakeIdentity, fallbacks: fb.Fallbacks
) -> None:
    fb.keep(fallbacks.records, "kid", fallbacks.hasher.hash(OLD), fb.PASSWORD, days=90)
    assert fb.redeem_password(identity, fallbacks, "kid", "not it") is None
    assert fallbacks.records.get("kid").purpose == fb.PASSWORD  # a wrong password leaves the record
    user = fb.redeem_password(identity, fallbacks, "Kid", OLD)
    assert user is not None and user.username == "kid"
    assert identity.authenticate("kid", OLD) is not None
    with pytest.raises(NotFound):
        fallbacks.records.get("kid")
    assert fb.redeem_password(identity, fallbacks, "kid", OLD) is None  # from now on the identity alone decides


def test_a_disabled_user_keeps_the_record_and_is_not_signed_in(identity: FakeIdentity, fallbacks: fb.Fallbacks) -> None:
    fb.keep(fallbacks.records, "kid", fallbacks.hasher.hash(OLD), fb.PASSWORD, days=90)
    identity.update_user("kid", disabled=True)
    assert fb.redeem_password(identity, fallbacks, "kid", OLD) is None
    assert fallbacks.records.get("kid")


def test_a_reset_code_sets_the_password_once_and_only_its_own_user(
    identity: FakeIdentity, fallbacks: fb.Fallbacks, memory_records: MemoryRecords
) -> None:
    code = fb.issue_reset_code(fallbacks, "kid", days=90)
    assert len(code) == 23 and code.count("-") == 3
    assert fallbacks.records.get("kid").secret_hash != code  # only the hash is kept
    with pytest.raises(Forbidden, match="wrong"):
        fb.redeem_reset_code(identity, memory_records.sessions, fallbacks, "kid", "AAAAA-BBBBB-CCCCC-DDDDD", NEW)
    with pytest.raises(Forbidden, match="no reset code"):
        fb.redeem_reset_code(identity, memory_records.sessions, fallbacks, "mum", code, NEW)
    fb.redeem_reset_code(identity, memory_records.sessions, fallbacks, "kid", code.lower().replace("-", " "), NEW)
    assert identity.authenticate("kid", NEW) is not None
    with pytest.raises(Forbidden):
        fb.redeem_reset_code(identity, memory_records.sessions, fallbacks, "kid", code, NEW + " again")
    assert identity.authenticate("kid", NEW) is not None
