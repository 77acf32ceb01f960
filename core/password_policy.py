"""The password rule, stated once: the local identity enforces it, the Cognito
pool is declared with it (infra/), and the API explains it on a 422.

Length over character classes (NIST SP 800-63B): a family picks a passphrase.
"""

from __future__ import annotations

MIN_LENGTH = 12
MAX_LENGTH = 256  # Cognito's own upper bound


def password_problem(password: str) -> str | None:
    """Why the password is not acceptable, or None when it is."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if password.strip() != password or not password.strip():
        return "password must not start or end with whitespace"
    return None
