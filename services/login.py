"""Logging in, throttled in fixed windows kept in the records' counters, so
every Lambda container (or uvicorn worker) sees the same counts.

Attempts are counted per username and per client address. Each attempt is
reserved atomically BEFORE the password is checked (the counter's add returns
the new total), so forty guesses sent at once are checked at most `per_user`
times, not forty. Once either total passes its limit (`per_address` is larger,
since a family shares one address) the login answers 429 until the window that
started with the first attempt runs out: a guesser is slowed down while the
real user is only ever locked out for one window. A successful login gives its
reservations back and clears the username's counter.

A user migrated from the local side signs in the first time with the password
kept in a migration record (`services.password_fallback`), checked only after
the identity has refused it and within the same reservation.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import RateLimited, Unauthenticated
from core.ports import CounterRepository, Identity
from core.records import User
from core.settings import Settings
from services.password_fallback import Fallbacks, redeem_password

BAD_LOGIN = "wrong username or password"


@dataclass(frozen=True)
class LoginLimits:
    per_user: int
    per_address: int
    window_s: int

    @classmethod
    def of(cls, settings: Settings) -> LoginLimits:
        return cls(settings.login_max_failures, settings.login_max_failures_per_address, settings.login_window_s)


def user_key(username: str) -> str:
    return f"login:user:{username.strip().lower()}"


def address_key(address: str) -> str:
    return f"login:addr:{address}"


def log_in(
    identity: Identity,
    counters: CounterRepository,
    limits: LoginLimits,
    username: str,
    password: str,
    address: str,
    *,
    fallbacks: Fallbacks | None = None,
) -> User:
    """The user whose password this is, else `Unauthenticated` (the same answer
    for a wrong name and a wrong password) or `RateLimited`. With `fallbacks`, a
    password the identity refuses is tried against the user's migration record."""
    ukey, akey = user_key(username), address_key(address)
    window = limits.window_s
    over_user = counters.add(ukey, 1, ttl_s=window) > limits.per_user
    over_address = counters.add(akey, 1, ttl_s=window) > limits.per_address
    if over_user or over_address:
        # A refused attempt was never checked: it does not count, so the
        # window's total stays the number of passwords really tried.
        counters.add(ukey, -1, ttl_s=window)
        counters.add(akey, -1, ttl_s=window)
        raise RateLimited("too many failed logins; try again later", headers={"Retry-After": str(window)})
    user = identity.authenticate(username, password)
    if user is None and fallbacks is not None:
        user = redeem_password(identity, fallbacks, username, password)
    if user is None:
        raise Unauthenticated(BAD_LOGIN)
    counters.reset(ukey)
    counters.add(akey, -1, ttl_s=window)
    return user
