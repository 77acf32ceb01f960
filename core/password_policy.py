"""The password rule, stated once: the local identity enforces it, the Cognito
pool is declared with it (infra/), and the API explains it on a 422.

Length over character classes (NIST SP 800-63B): a family picks a passphrase.
"""

from __future__ import annotations

import re

MIN_LENGTH = 12
MAX_LENGTH = 256  # Cognito's own upper bound
# No white space first or last (what `str.strip` removes), anything between.
# Spelled out rather than `\s`, which means other sets in ECMA-262 and Rust
# regexes, so the API's schema pattern means the same to every reader.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
PATTERN = rf"^[^{_SPACE}](?:[\s\S]*[^{_SPACE}])?$"
_RULE = re.compile(PATTERN)
RULE_TEXT = "password must not start or end with whitespace"


def password_problem(password: str) -> str | None:
    """Why the password is not acceptable, or None when it is."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if not _RULE.fullmatch(password):
        return RULE_TEXT
    return None
