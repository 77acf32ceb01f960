"""Who may read and change a member's record, in one place: a missing record
reads "no <what> <id>", someone else's reads as missing where members see only
their own, and only its owner or an admin may change it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from core.errors import Forbidden, NotFound
from core.records import User

R = TypeVar("R")


def found(read: Callable[[str], R], what: str, record_id: str) -> R:
    """`read(record_id)`, a missing record's `NotFound` saying "no <what> <id>"."""
    try:
        return read(record_id)
    except NotFound:
        raise NotFound(f"no {what} {record_id}") from None


def visible(user: User, owner: str, what: str, record_id: str) -> None:
    """Members see their own records of this kind, admins everyone's; others read as missing."""
    if owner != user.owner_id and not user.is_admin:
        raise NotFound(f"no {what} {record_id}")


def may_change(user: User, owner: str, what: str) -> None:
    if owner != user.owner_id and not user.is_admin:
        raise Forbidden(f"only the owner or an admin may change this {what}")
