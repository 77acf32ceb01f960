"""Member ids: what records name as their owner, never given to a later member.

The first member ever called `alice` has the id `alice` (so records made before
ids existed keep their owner as it is); the n-th member of that name has
`alice~n` (`core.usernames.member_id`). Each name's generation is a settings
record, `member:<name>` -> {"id", "generation", "deleted"}, written when the
member is made and kept as a tombstone when they go (docs/security.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from core.errors import NotFound
from core.ports import Identity, Records
from core.records import User
from core.usernames import member_id, name_of

log = logging.getLogger("yss.members")

KEY_PREFIX = "member:"


@dataclass(frozen=True)
class Member:
    name: str
    id: str
    generation: int
    deleted: bool = False

    def value(self) -> dict[str, Any]:
        return {"id": self.id, "generation": self.generation, "deleted": self.deleted}


def key_of(name: str) -> str:
    return KEY_PREFIX + name


class Members:
    """The member records of one records store."""

    def __init__(self, records: Records) -> None:
        self._records = records
        self._store = records.settings

    def recorded(self, name: str) -> Member | None:
        """The name's last member as recorded; None for a name no member record names."""
        try:
            value = self._store.get(key_of(name))
        except NotFound:
            return None
        try:
            return Member(name, str(value["id"]), int(value["generation"]), bool(value.get("deleted", False)))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"the member record of {name!r} is unreadable: {value!r}") from None

    def id_of(self, name: str) -> str:
        """The id of the member now called `name`; `NotFound` while that member is being deleted."""
        found = self.recorded(name)
        if found is None:
            return name  # made before member records: the id is the name
        if found.deleted:
            raise NotFound(f"member {name} has been deleted")
        return found.id

    def resolved(self, user: User) -> User:
        return replace(user, id=self.id_of(user.username))

    def current(self, name: str) -> Member:
        """The name's member as a record, recorded or not (one made before records: generation 1)."""
        return self.recorded(name) or Member(name, name, 1)

    def next_of(self, name: str) -> Member:
        """Who a new member called `name` is: one generation past the last recorded one.
        A name with no record is generation 1, unless records still name it as their owner
        (a member of that name went before generations were kept): then 2."""
        last = self.recorded(name)
        generation = last.generation + 1 if last is not None else (2 if self._left_behind(name) else 1)
        return Member(name, member_id(name, generation), generation)

    def made(self, member: Member) -> None:
        self._store.put(key_of(member.name), replace(member, deleted=False).value())

    def gone(self, member: Member) -> None:
        """The tombstone: the id stays taken for good."""
        self._store.put(key_of(member.name), replace(member, deleted=True).value())

    def _left_behind(self, owner: str) -> bool:
        r = self._records
        try:
            r.tokens.get(owner)
            return True
        except NotFound:
            pass
        owned = (r.audio, r.playlists, r.cards, r.podcasts, r.routines, r.jobs)
        return any(repo.list(owner=owner, limit=1).items for repo in owned)


@dataclass(frozen=True)
class MemberLookup:
    """Users by member id (`services.card_content.UserLookup`): `NotFound` for the id
    of a member who has gone, even when a later member has their name."""

    identity: Identity
    members: Members

    def get_user(self, owner: str) -> User:
        name = name_of(owner)
        user = self.identity.get_user(name)
        if self.members.id_of(name) != owner:
            raise NotFound(f"no member {owner}")
        return replace(user, id=owner)
