"""Family members, managed by admins.

Two rules hold here (the first kept by `services.accounts`, the identity side):
- the last enabled admin cannot be demoted, disabled or deleted, so a family
  can never lock itself out of its own service;
- whoever loses access loses it at once: disabling, deleting or changing the
  password of a user (by themselves or by an admin) revokes every session, and
  disabling or deleting one forgets their Yoto link (tokens, logins in
  progress, cached player list), so nothing acts on that account any more.

Records are owned by member ids (`services.members`): a member made with the
name of one who was deleted owns nothing of theirs. What a deleted member
leaves passes to the admin who deleted them, or is deleted on request
(`services.departures`; docs/security.md).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import Literal

from core.errors import AlreadyExists, Conflict, Forbidden, Invalid, NotFound
from core.ports import AudioStorage, Identity, Records
from core.records import User
from core.usernames import canonical_username, member_id
from services import departures
from services.accounts import check_policy, get_user, is_last_admin, last_admin, set_account
from services.members import Members
from services.yoto_link import forget_link

ItemsOnDelete = Literal["reassign", "delete"]


@dataclass(frozen=True)
class Family:
    """What managing members touches: the identity side, the records and the audio objects."""

    identity: Identity
    records: Records
    storage: AudioStorage

    @property
    def members(self) -> Members:
        return Members(self.records)

    def forget_yoto(self, account: str) -> None:
        forget_link(self.records.tokens, self.records.settings, account)


def list_users(identity: Identity) -> list[User]:
    return sorted(identity.list_users(), key=lambda u: u.username)


def create_account(identity: Identity, username: str, password: str, *, is_admin: bool = False) -> User:
    """The user on the identity side only: what the migration makes (the member
    records come over with the settings). Everything else calls `create_user`."""
    check_policy(password)
    try:
        return identity.create_user(username, password, is_admin=is_admin)
    except AlreadyExists:
        raise Conflict(f"user {username} already exists") from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def create_user(family: Family, username: str, password: str, *, is_admin: bool = False) -> User:
    """A new member, one generation past the last member of that name (`services.members`).
    An earlier member's Yoto link, if one was left behind, is forgotten."""
    check_policy(password)
    try:
        name = canonical_username(username)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    members = family.members
    member = members.next_of(name)
    user = create_account(family.identity, name, password, is_admin=is_admin)
    try:
        members.made(member)
    except BaseException:
        with contextlib.suppress(Exception):
            family.identity.delete_user(name)  # no member record, no member: an unrecorded one would be generation 1
        raise
    if member.generation > 1:
        family.forget_yoto(member_id(name, member.generation - 1))
    return replace(user, id=member.id)


def update_user(
    family: Family,
    username: str,
    *,
    password: str | None = None,
    is_admin: bool | None = None,
    disabled: bool | None = None,
) -> User:
    """A new password, the admin flag, enabled or disabled. Disabling ends the
    member's sessions and forgets their Yoto link."""
    user = set_account(
        family.identity, family.records.sessions, username, password=password, is_admin=is_admin, disabled=disabled
    )
    if disabled:
        family.forget_yoto(family.members.current(user.username).id)
    return user


def delete_user(family: Family, username: str, *, by: User, items: ItemsOnDelete = "reassign") -> int:
    """Delete a member; returns how many of their audio items were passed to `by`
    (or to another admin when `by` deletes themselves) or, with `items="delete"`,
    deleted. The order makes a delete safe to retry at any step: the tombstone
    first (from then on the member cannot sign in and their id is never given
    again), then their sessions, their Yoto link and what they owned
    (`services.departures`), the user last."""
    identity = family.identity
    current = get_user(identity, username)
    if is_last_admin(identity, current):
        raise last_admin(username)
    members = family.members
    heir = by.owner_id
    if current.username == by.username:  # an admin stepping out: another admin inherits
        other = next(u.username for u in list_users(identity) if u.is_admin and not u.disabled and u != current)
        heir = members.id_of(other)
    member = members.current(current.username)
    members.gone(member)
    family.records.sessions.delete_for_user(current.username)
    family.forget_yoto(member.id)
    left = departures.hand_over(family.records, family.storage, member.id, heir if items == "reassign" else None)
    with contextlib.suppress(NotFound):  # a retried delete that got this far before
        identity.delete_user(current.username)
    return left.items


def change_own_password(family: Family, user: User, *, current_password: str, new_password: str) -> User:
    """A member changing their own password proves the old one first; every
    session of theirs ends (the caller starts a fresh one for this device)."""
    if family.identity.authenticate(user.username, current_password) is None:
        raise Forbidden("the current password is wrong")
    return update_user(family, user.username, password=new_password)
