"""Migration records at sign-in: a password carried over from the local side,
and the one-time reset codes of users who moved the other way.

Cognito cannot import argon2 hashes, so `python -m app migrate --to-aws`
creates each user with an unusable random password and keeps their argon2
hash as a `PasswordFallback` (purpose "password"). The first sign-in on AWS
that Cognito refuses is checked against that hash once: when it matches, the
password is set in Cognito (permanent) and the record is deleted, so from
then on Cognito alone decides. A wrong password leaves the record as it was.

The way back cannot carry passwords (they never leave Cognito): each user
gets a reset code (purpose "reset"), printed once for the admin and redeemed
with `python -m app reset-password`. Records expire after
`MIGRATED_PASSWORD_DAYS`. No API route reads them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from core.errors import Forbidden, Invalid, NotFound
from core.password_policy import password_problem
from core.ports import Identity, PasswordFallbackRepository, SecretHasher, SessionRepository
from core.records import PasswordFallback, User, utcnow
from core.usernames import canonical_username
from services.accounts import set_account

PASSWORD = "password"
RESET = "reset"
# Reset codes: 20 characters from an alphabet without look-alikes (about 100 bits), in groups of five.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 20


@dataclass(frozen=True)
class Fallbacks:
    """What checking a migration record needs: the records and the hasher."""

    records: PasswordFallbackRepository
    hasher: SecretHasher


def keep(fallbacks: PasswordFallbackRepository, username: str, secret_hash: str, purpose: str, *, days: int) -> None:
    now = utcnow()
    expires = now + timedelta(days=days)
    fallbacks.put(PasswordFallback(username, secret_hash, purpose, created_at=now, expires_at=expires))


def redeem_password(identity: Identity, fallbacks: Fallbacks, username: str, password: str) -> User | None:
    """Called once the identity has refused `password`: the user when it matches
    their migrated hash (which then becomes their password and is deleted), else None."""
    try:
        name = canonical_username(username)
    except ValueError:
        return None
    try:
        record: PasswordFallback | None = fallbacks.records.get(name)
    except NotFound:
        record = None
    if record is None or record.purpose != PASSWORD:
        # No argon2 check without a record: a refused sign-in costs what it did before the
        # migration. A migrated user's costs one check more until they sign in (docs/migration.md).
        return None
    if not fallbacks.hasher.verify(record.secret_hash, password):
        return None
    try:
        user = identity.get_user(name)
    except NotFound:
        return None
    if user.disabled:
        return None  # the record stays: it is the user's once an admin enables them
    try:
        identity.update_user(name, password=password)
    except ValueError:
        return user  # the pool refused it as a password: signed in, the record kept for the next time
    fallbacks.records.delete(name)
    return user


def new_reset_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    return "-".join(raw[i : i + 5] for i in range(0, _CODE_LENGTH, 5))


def _normal_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def issue_reset_code(fallbacks: Fallbacks, username: str, *, days: int) -> str:
    """A new one-time code for `username` (replacing any earlier one); only its hash is stored."""
    code = new_reset_code()
    keep(fallbacks.records, username, fallbacks.hasher.hash(_normal_code(code)), RESET, days=days)
    return code


def redeem_reset_code(
    identity: Identity, sessions: SessionRepository, fallbacks: Fallbacks, username: str, code: str, new_password: str
) -> User:
    """Set `new_password` for the user whose reset code this is; the code is then used up."""
    problem = password_problem(new_password)
    if problem:
        raise Invalid(problem)
    name = canonical_username(username)
    try:
        record = fallbacks.records.get(name)
    except NotFound:
        raise Forbidden(f"{name} has no reset code, or it has expired; ask the admin for a new one") from None
    if record.purpose != RESET or not fallbacks.hasher.verify(record.secret_hash, _normal_code(code)):
        raise Forbidden("the reset code is wrong")
    if not fallbacks.records.delete(name):
        raise Forbidden("the reset code has just been used")
    return set_account(identity, sessions, name, password=new_password)
