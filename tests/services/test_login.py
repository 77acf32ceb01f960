"""The login throttle reserves each attempt before checking the password."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.memory import MemoryRecords
from core.errors import RateLimited, Unauthenticated
from services.login import LoginLimits, address_key, log_in, user_key
from tests.services.fakes import FakeIdentity

LIMITS = LoginLimits(per_user=5, per_address=20, window_s=60)


def _try(identity: FakeIdentity, records: MemoryRecords, name: str, password: str, address: str = "a") -> str:
    try:
        log_in(identity, records.counters, LIMITS, name, password, address)
    except RateLimited:
        return "429"
    except Unauthenticated:
        return "401"
    return "200"


def test_forty_concurrent_guesses_check_at_most_the_limit(
    identity: FakeIdentity, memory_records: MemoryRecords
) -> None:
    with ThreadPoolExecutor(40) as pool:
        got = list(pool.map(lambda i: _try(identity, memory_records, "kid", "wrong", f"addr{i}"), range(40)))
    assert identity.checked == LIMITS.per_user == got.count("401")
    assert got.count("429") == 35
    # Refused attempts are not counted: the total is the number of passwords tried.
    assert memory_records.counters.get(user_key("kid")) == LIMITS.per_user


def test_per_address_limit_across_usernames(identity: FakeIdentity, memory_records: MemoryRecords) -> None:
    with ThreadPoolExecutor(40) as pool:
        got = list(pool.map(lambda i: _try(identity, memory_records, f"guess{i}", "wrong"), range(40)))
    assert got.count("401") == LIMITS.per_address == identity.checked


def test_success_refunds_and_clears(identity: FakeIdentity, memory_records: MemoryRecords) -> None:
    for _ in range(LIMITS.per_user - 1):
        assert _try(identity, memory_records, "kid", "wrong") == "401"
    assert _try(identity, memory_records, "KID", "purple monkey dishwasher") == "200"
    assert memory_records.counters.get(user_key("kid")) == 0
    assert memory_records.counters.get(address_key("a")) == LIMITS.per_user - 1  # the success gave its slot back


def test_rate_limited_says_when(identity: FakeIdentity, memory_records: MemoryRecords) -> None:
    for _ in range(LIMITS.per_user):
        _try(identity, memory_records, "kid", "wrong")
    with pytest.raises(RateLimited) as caught:
        log_in(identity, memory_records.counters, LIMITS, "kid", "purple monkey dishwasher", "a")
    assert caught.value.headers == {"Retry-After": "60"}
