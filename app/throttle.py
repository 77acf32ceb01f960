"""Login throttling in fixed windows, kept in `records.counters` so every
Lambda container (or uvicorn worker) sees the same counts.

Failures are counted per username and per client address. Once either
reaches its limit (`login_max_failures`, or the larger
`login_max_failures_per_address`, since a family shares one address) the login answers 429 until the window that
started with the first failure runs out, so a guesser is slowed down while
the real user is only ever locked out for one window. A successful login
clears the username's counter.
"""

from __future__ import annotations

from fastapi import HTTPException

from adapters import Adapters


def _user_key(username: str) -> str:
    return f"login:user:{username.strip().lower()}"


def _addr_key(address: str) -> str:
    return f"login:addr:{address}"


def check_allowed(adapters: Adapters, username: str, address: str) -> None:
    settings = adapters.settings
    counters = adapters.records.counters
    if (
        counters.get(_user_key(username)) >= settings.login_max_failures
        or counters.get(_addr_key(address)) >= settings.login_max_failures_per_address
    ):
        raise HTTPException(
            429,
            "too many failed logins; try again later",
            headers={"Retry-After": str(settings.login_window_s)},
        )


def record_failure(adapters: Adapters, username: str, address: str) -> None:
    window = adapters.settings.login_window_s
    adapters.records.counters.add(_user_key(username), 1, ttl_s=window)
    adapters.records.counters.add(_addr_key(address), 1, ttl_s=window)


def record_success(adapters: Adapters, username: str) -> None:
    adapters.records.counters.reset(_user_key(username))
