"""Family members, managed by admins.

Two rules live here and nowhere else:
- the last enabled admin cannot be demoted, disabled or deleted, so a family
  can never lock itself out of its own service;
- whoever loses access loses it at once: disabling, deleting or changing the
  password of a user (by themselves or by an admin) revokes every session.

A deleted member's audio items are not left under a name somebody could sign
up with later: they pass to the admin who deleted the member (or are deleted
on request), and their stream keys are rotated either way, so links the
member handed out stop playing.
"""

from __future__ import annotations

import secrets
from typing import Literal

from core.errors import AlreadyExists, Conflict, Forbidden, Invalid, NotFound
from core.password_policy import password_problem
from core.ports import Identity, SessionRepository
from core.records import User
from services.library import LibraryPorts, remove

ItemsOnDelete = Literal["reassign", "delete"]


def _check_policy(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise Invalid(problem)


def list_users(identity: Identity) -> list[User]:
    return sorted(identity.list_users(), key=lambda u: u.username)


def get_user(identity: Identity, username: str) -> User:
    try:
        return identity.get_user(username)
    except NotFound:
        raise NotFound(f"no user {username}") from None


def create_user(identity: Identity, username: str, password: str, *, is_admin: bool = False) -> User:
    _check_policy(password)
    try:
        return identity.create_user(username, password, is_admin=is_admin)
    except AlreadyExists:
        raise Conflict(f"user {username} already exists") from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _is_last_admin(identity: Identity, user: User) -> bool:
    if not user.is_admin or user.disabled:
        return False
    others = (u for u in identity.list_users() if u.username != user.username)
    return not any(u.is_admin and not u.disabled for u in others)


def _last_admin(username: str) -> Conflict:
    return Conflict(f"{username} is the last admin: make another admin first")


def update_user(
    identity: Identity,
    sessions: SessionRepository,
    username: str,
    *,
    password: str | None = None,
    is_admin: bool | None = None,
    disabled: bool | None = None,
) -> User:
    current = get_user(identity, username)
    if password is not None:
        _check_policy(password)
    if (is_admin is False or disabled is True) and _is_last_admin(identity, current):
        raise _last_admin(username)
    try:
        user = identity.update_user(username, password=password, is_admin=is_admin, disabled=disabled)
    except NotFound:
        raise NotFound(f"no user {username}") from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if disabled or password is not None:
        sessions.delete_for_user(user.username)
    return user


def delete_user(
    identity: Identity,
    sessions: SessionRepository,
    library_ports: LibraryPorts,
    username: str,
    *,
    by: User,
    items: ItemsOnDelete = "reassign",
) -> int:
    """Delete a member; returns how many of their items were passed to `by`
    (or to another admin when `by` deletes themselves) or, with
    `items="delete"`, deleted even where cards and playlists use them."""
    current = get_user(identity, username)
    if _is_last_admin(identity, current):
        raise _last_admin(username)
    heir = by.username
    if current.username == by.username:  # an admin stepping out: another admin inherits
        heir = next(u.username for u in list_users(identity) if u.is_admin and not u.disabled and u != current)
    sessions.delete_for_user(current.username)
    try:
        identity.delete_user(current.username)
    except NotFound:
        raise NotFound(f"no user {username}") from None
    return _hand_over_items(library_ports, current.username, heir, items)


def _hand_over_items(ports: LibraryPorts, owner: str, heir: str, items: ItemsOnDelete) -> int:
    count = 0
    while True:
        # Always the first page: every item handled leaves the owner's list.
        page = ports.audio.list(owner=owner, limit=200)
        if not page.items:
            return count
        for item in page.items:
            if items == "delete":
                remove(ports, item, force=True)
            else:
                ports.audio.update(item.id, owner=heir, stream_key=secrets.token_urlsafe(16))
            count += 1


def change_own_password(
    identity: Identity, sessions: SessionRepository, user: User, *, current_password: str, new_password: str
) -> User:
    """A member changing their own password proves the old one first; every
    session of theirs ends (the caller starts a fresh one for this device)."""
    if identity.authenticate(user.username, current_password) is None:
        raise Forbidden("the current password is wrong")
    return update_user(identity, sessions, user.username, password=new_password)
