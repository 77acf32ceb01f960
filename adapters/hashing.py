"""The `SecretHasher` port on argon2id (argon2-cffi, imported when first built).

Shared by both sides: locally the migration hashes reset codes with it, and on
Lambda the first sign-in of a migrated user checks the password hash carried
over from the local side (so argon2-cffi ships in the Lambda package; nothing
imports it before a login needs it).
"""

from __future__ import annotations

from typing import Any


class Argon2Hasher:
    def __init__(self) -> None:
        from argon2 import PasswordHasher

        self._hasher: Any = PasswordHasher()

    def hash(self, secret: str) -> str:
        return str(self._hasher.hash(secret))

    def verify(self, stored: str, secret: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(self._hasher.verify(stored, secret))
        except (VerificationError, InvalidHashError, ValueError, TypeError):
            return False
