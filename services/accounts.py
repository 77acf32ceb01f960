"""A member's account on the identity side: look it up, set its password, role or
state, with the password policy and the last-admin rule (the last enabled admin
cannot be demoted or disabled). Light on purpose: the login path imports it, and
the rest of member management (`services.users`) it does not need.
"""

from __future__ import annotations

from core.errors import Conflict, Invalid, NotFound
from core.password_policy import password_problem
from core.ports import Identity, SessionRepository
from core.records import User
from services import access


def check_policy(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise Invalid(problem)


def get_user(identity: Identity, username: str) -> User:
    return access.found(identity.get_user, "user", username)


def is_last_admin(identity: Identity, user: User) -> bool:
    if not user.is_admin or user.disabled:
        return False
    others = (u for u in identity.list_users() if u.username != user.username)
    return not any(u.is_admin and not u.disabled for u in others)


def last_admin(username: str) -> Conflict:
    return Conflict(f"{username} is the last admin: make another admin first")


def set_account(
    identity: Identity,
    sessions: SessionRepository,
    username: str,
    *,
    password: str | None = None,
    is_admin: bool | None = None,
    disabled: bool | None = None,
) -> User:
    """The identity side of `update_user` (the migration's): the last-admin rule and the sessions."""
    current = get_user(identity, username)
    if password is not None:
        check_policy(password)
    if (is_admin is False or disabled is True) and is_last_admin(identity, current):
        raise last_admin(username)
    try:
        user = identity.update_user(username, password=password, is_admin=is_admin, disabled=disabled)
    except NotFound:
        raise NotFound(f"no user {username}") from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if disabled or password is not None:
        sessions.delete_for_user(user.username)
    return user
