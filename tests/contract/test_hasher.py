"""The `SecretHasher` contract (argon2id, the one implementation both sides use)."""

from __future__ import annotations

from adapters.hashing import Argon2Hasher


def test_hash_verifies_only_its_own_secret_and_never_raises() -> None:
    hasher = Argon2Hasher()
    stored = hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert hasher.hash("correct horse battery") != stored  # salted
    assert hasher.verify(stored, "correct horse battery") is True
    assert hasher.verify(stored, "correct horse batterY") is False
    assert hasher.verify(stored, "") is False
    assert hasher.verify("not a hash", "correct horse battery") is False
    assert hasher.verify("", "x") is False
