"""The username rule, stated once: both identity backends store the lower-case
form, so "Alice" and "alice" are one user on either side and a family can move
between them; the API declares the same pattern on every path that names a user.
A member id is a username, or `<username>~<n>` for the n-th member of that name
(`~` is outside the rule, so no username looks like a later member's id)."""

from __future__ import annotations

import re

MAX_LENGTH = 64
# What a client may send (any case); stored names are its lower-case form.
PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_RULE = re.compile(PATTERN)
RULE_TEXT = "username must be 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"


def canonical_username(username: str) -> str:
    """The stored form of a username (lower case), or ValueError saying what is wrong."""
    if not _RULE.fullmatch(username):
        raise ValueError(RULE_TEXT)
    return username.lower()


GENERATION_MARK = "~"


def member_id(username: str, generation: int) -> str:
    """The id of the `generation`-th member called `username` (the first's is the name itself)."""
    return username if generation <= 1 else f"{username}{GENERATION_MARK}{generation}"


def name_of(member: str) -> str:
    """The username a member id belongs to (what an answer shows as its owner)."""
    return member.split(GENERATION_MARK, 1)[0]
