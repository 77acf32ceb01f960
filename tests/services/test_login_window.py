"""The login throttle's window on a manual clock: a locked-out name or address is
let in again when the window that began with its first failure ends, not sooner."""

from __future__ import annotations

import pytest

from adapters.memory import MemoryRecords
from core.errors import RateLimited, Unauthenticated
from core.records import User
from services.login import LoginLimits, log_in
from tests.conftest import ManualClock
from tests.services.fakes import FakeIdentity

LIMITS = LoginLimits(per_user=3, per_address=5, window_s=60)
KID_PASSWORD = "purple monkey dishwasher"


@pytest.fixture
def records(manual_clock: ManualClock) -> MemoryRecords:
    return MemoryRecords(clock=manual_clock.now)


def _log_in(identity: FakeIdentity, records: MemoryRecords, name: str, password: str, address: str) -> User:
    return log_in(identity, records.counters, LIMITS, name, password, address)


def test_a_locked_out_name_is_let_in_when_the_window_of_its_first_failure_ends(
    identity: FakeIdentity, records: MemoryRecords, manual_clock: ManualClock
) -> None:
    for i in range(LIMITS.per_user):
        manual_clock.advance(20 if i else 0)  # failures at 0, 20 and 40 s: the window is the first one's
        with pytest.raises(Unauthenticated, match="wrong username or password"):
            _log_in(identity, records, "kid", "wrong", f"10.0.0.{i}")
    with pytest.raises(RateLimited, match="too many failed logins") as caught:
        _log_in(identity, records, "kid", KID_PASSWORD, "10.0.1.1")  # even the right password waits
    assert caught.value.headers == {"Retry-After": "60"} and identity.checked == LIMITS.per_user
    assert _log_in(identity, records, "mum", "correct horse battery staple", "10.0.1.1").username == "mum"
    manual_clock.advance(19.9)  # 59.9 s after the first failure
    with pytest.raises(RateLimited):
        _log_in(identity, records, "kid", KID_PASSWORD, "10.0.1.2")
    manual_clock.advance(0.1)
    assert _log_in(identity, records, "kid", KID_PASSWORD, "10.0.1.3").username == "kid"
    assert identity.checked == LIMITS.per_user + 2  # the refused attempts were never checked


def test_a_locked_out_address_is_let_in_when_its_window_ends_and_others_never_wait(
    identity: FakeIdentity, records: MemoryRecords, manual_clock: ManualClock
) -> None:
    for i in range(LIMITS.per_address):
        with pytest.raises(Unauthenticated):
            _log_in(identity, records, f"guess{i}", "wrong", "10.2.0.9")
    with pytest.raises(RateLimited):
        _log_in(identity, records, "kid", KID_PASSWORD, "10.2.0.9")
    assert _log_in(identity, records, "kid", KID_PASSWORD, "10.2.0.10").username == "kid"  # another address
    manual_clock.advance(LIMITS.window_s - 1)
    with pytest.raises(RateLimited):
        _log_in(identity, records, "kid", KID_PASSWORD, "10.2.0.9")
    manual_clock.advance(1)
    assert _log_in(identity, records, "kid", KID_PASSWORD, "10.2.0.9").username == "kid"


def test_failures_in_a_new_window_count_from_nothing(
    identity: FakeIdentity, records: MemoryRecords, manual_clock: ManualClock
) -> None:
    for _ in range(LIMITS.per_user):
        with pytest.raises(Unauthenticated):
            _log_in(identity, records, "kid", "wrong", "10.3.0.1")
    manual_clock.advance(LIMITS.window_s)
    for _ in range(LIMITS.per_user - 1):
        with pytest.raises(Unauthenticated):
            _log_in(identity, records, "kid", "wrong", "10.3.0.2")
    assert _log_in(identity, records, "kid", KID_PASSWORD, "10.3.0.2").username == "kid"
