"""The `SecretHasher` contract (argon2id, the one implementation both sides use)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from adapters.hashing import Argon2Hasher
from core.settings import Settings


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


PRODUCTION = "$argon2id$v=19$m=65536,t=3,p=4$"  # argon2-cffi's defaults (RFC 9106, low-memory profile)


def test_production_hashes_keep_their_cost_parameters(local_settings: Settings) -> None:
    """The one place the real cost is checked: every other tier hashes cheaply (tests/conftest.py)."""
    from adapters import Adapters
    from adapters.local.identity import LocalIdentity

    assert Argon2Hasher().hash("correct horse battery").startswith(PRODUCTION)
    LocalIdentity(local_settings, Adapters(local_settings).records).create_user("ivan", "correct horse battery")
    with closing(sqlite3.connect(Path(local_settings.data_dir) / "yoto.db")) as db:
        (stored,) = db.execute("SELECT password_hash FROM users WHERE username = 'ivan'").fetchone()
    assert stored.startswith(PRODUCTION)
