"""Users across the move, through the identity port and `services.users`.

To AWS: Cognito cannot import argon2 hashes, so each user is created with an
unusable random password and their local hash is kept as a migration record
(written BEFORE the user, so a run killed in between leaves a record that the
next run completes, never a user without one). To the local side: passwords
never leave Cognito, so each user gets a one-time reset code, handed to the
caller (to print) BEFORE the user is made; a user whose code may not have been
shown gets a new one on the next run, and only the newest code works.

A target user whose migration record is still there has not signed in (or
redeemed the code) yet, so the migration still owns it: its admin flag and
disabled state are brought in line with the source (a run killed between
creating and disabling a user is finished this way). A user without one is
the family's: differences are reported, never overwritten.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import NotFound
from core.ports import Identity, PasswordFallbackRepository, SecretHasher, SessionRepository
from core.records import User
from services import users as user_service
from services.password_fallback import PASSWORD, RESET, Fallbacks, issue_reset_code, keep


@dataclass(frozen=True)
class UserTarget:
    identity: Identity
    sessions: SessionRepository
    fallbacks: PasswordFallbackRepository
    hasher: SecretHasher


def unusable_password() -> str:
    """A random password nobody is told (it satisfies the password rule)."""
    return secrets.token_urlsafe(48)


def purpose_for(direction: str) -> str:
    return PASSWORD if direction == "to-aws" else RESET


def migration_owned(target: UserTarget, username: str, direction: str) -> bool:
    try:
        return target.fallbacks.get(username).purpose == purpose_for(direction)
    except NotFound:
        return False


def same_flags(a: User, b: User) -> bool:
    return (a.is_admin, a.disabled) == (b.is_admin, b.disabled)


def flag_text(user: User) -> str:
    return f"admin={user.is_admin}, disabled={user.disabled}"


def in_copy_order(people: list[User]) -> list[User]:
    """Enabled users first: disabling one is refused while they are the target's only enabled admin."""
    return sorted(people, key=lambda u: (u.disabled, u.username))


def create(
    source: Identity,
    target: UserTarget,
    user: User,
    direction: str,
    *,
    days: int,
    on_reset_code: Callable[[str, str], None],
) -> None:
    name = user.username
    if direction == "to-aws":
        stored = source.password_hash(name)
        if stored is None:
            raise ValueError(f"the source keeps no password hash for {name}")
        keep(target.fallbacks, name, stored, PASSWORD, days=days)
    else:
        code = issue_reset_code(Fallbacks(target.fallbacks, target.hasher), name, days=days)
        on_reset_code(name, code)
    user_service.create_account(target.identity, name, unusable_password(), is_admin=user.is_admin)
    if user.disabled:
        user_service.set_account(target.identity, target.sessions, name, disabled=True)


def align(target: UserTarget, user: User) -> None:
    """Give a migration-owned target user the source's admin flag and disabled state."""
    user_service.set_account(
        target.identity, target.sessions, user.username, is_admin=user.is_admin, disabled=user.disabled
    )
