"""The identity contract, run against `LocalIdentity` ([local], SQLite + argon2id)
and `CognitoIdentity` ([aws], the user pool on the moto server)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from adapters import Adapters
from core.errors import AlreadyExists, NotFound
from core.ports import Identity
from core.settings import Settings

PASSWORD = "correct horse battery"
OTHER = "another long passphrase"


@pytest.fixture
def identity(backend_settings: Settings) -> Identity:
    return Adapters(backend_settings).identity


def test_create_and_get(identity: Identity) -> None:
    made = identity.create_user("alice", PASSWORD)
    assert (made.username, made.is_admin, made.disabled) == ("alice", False, False)
    got = identity.get_user("alice")
    assert (got.username, got.is_admin, got.disabled) == ("alice", False, False)
    assert got.created_at.tzinfo is not None
    assert abs(got.created_at - datetime.now(UTC)) < timedelta(minutes=5)
    admin = identity.create_user("Bob", PASSWORD, is_admin=True)
    assert (admin.username, admin.is_admin) == ("bob", True)
    assert identity.get_user("BOB").is_admin


def test_duplicate_is_refused_and_changes_nothing(identity: Identity) -> None:
    identity.create_user("alice", PASSWORD)
    with pytest.raises(AlreadyExists):
        identity.create_user("alice", OTHER, is_admin=True)
    with pytest.raises(AlreadyExists):
        identity.create_user("ALICE", OTHER)
    assert identity.authenticate("alice", PASSWORD) is not None
    assert identity.authenticate("alice", OTHER) is None
    assert not identity.get_user("alice").is_admin


def test_authenticate_gives_one_answer_for_every_failure(identity: Identity) -> None:
    identity.create_user("alice", PASSWORD, is_admin=True)
    user = identity.authenticate("alice", PASSWORD)
    assert user is not None and (user.username, user.is_admin) == ("alice", True)
    assert identity.authenticate("Alice", PASSWORD) is not None
    assert identity.authenticate("alice", PASSWORD + "x") is None
    assert identity.authenticate("alice", PASSWORD.upper()) is None
    assert identity.authenticate("alice", "") is None
    assert identity.authenticate("nobody", PASSWORD) is None
    assert identity.authenticate("not a valid name!", PASSWORD) is None
    assert identity.authenticate("alice", "x" * 10_000) is None


def test_disabled_user_cannot_log_in_until_enabled(identity: Identity) -> None:
    identity.create_user("carol", PASSWORD)
    assert identity.update_user("carol", disabled=True).disabled
    assert identity.get_user("carol").disabled
    assert identity.authenticate("carol", PASSWORD) is None
    assert not identity.update_user("carol", disabled=False).disabled
    assert identity.authenticate("carol", PASSWORD) is not None


def test_admin_flag_toggles(identity: Identity) -> None:
    identity.create_user("dave", PASSWORD)
    assert identity.update_user("dave", is_admin=True).is_admin
    assert identity.get_user("dave").is_admin
    assert [u.is_admin for u in identity.list_users()] == [True]
    authenticated = identity.authenticate("dave", PASSWORD)
    assert authenticated is not None and authenticated.is_admin
    assert not identity.update_user("dave", is_admin=False).is_admin
    assert not identity.get_user("dave").is_admin


def test_password_change(identity: Identity) -> None:
    identity.create_user("erin", PASSWORD)
    identity.update_user("erin", password=OTHER)
    assert identity.authenticate("erin", PASSWORD) is None
    assert identity.authenticate("erin", OTHER) is not None


BAD_PASSWORDS = [("short", "at least 12"), (" padded passphrase ", "whitespace"), ("x" * 300, "at most 256")]


def test_policy_violation_is_a_value_error_and_leaves_nothing(identity: Identity) -> None:
    for password, reason in BAD_PASSWORDS:
        with pytest.raises(ValueError, match=reason):
            identity.create_user("frank", password)
    with pytest.raises(NotFound):
        identity.get_user("frank")
    assert identity.list_users() == []
    identity.create_user("frank", PASSWORD)
    for password, reason in BAD_PASSWORDS:
        with pytest.raises(ValueError, match=reason):
            identity.update_user("frank", password=password, is_admin=True)
    assert identity.authenticate("frank", PASSWORD) is not None
    assert not identity.get_user("frank").is_admin


def test_bad_usernames_are_refused(identity: Identity) -> None:
    for name in ["", "has space", "-leading", "x" * 65, "semi;colon", "ünï", "../x"]:
        with pytest.raises(ValueError, match="username"):
            identity.create_user(name, PASSWORD)
    assert identity.list_users() == []


def test_delete(identity: Identity) -> None:
    identity.create_user("gina", PASSWORD)
    identity.delete_user("gina")
    with pytest.raises(NotFound):
        identity.get_user("gina")
    assert identity.authenticate("gina", PASSWORD) is None
    with pytest.raises(NotFound):
        identity.delete_user("gina")
    with pytest.raises(NotFound):
        identity.update_user("gina", disabled=True)
    identity.create_user("gina", OTHER)  # the name is free again
    assert identity.authenticate("gina", OTHER) is not None


def test_list_users(identity: Identity) -> None:
    assert identity.list_users() == []
    identity.create_user("zoe", PASSWORD)
    identity.create_user("amy", PASSWORD, is_admin=True)
    identity.create_user("max", PASSWORD)
    identity.update_user("max", disabled=True)
    listed = [(u.username, u.is_admin, u.disabled) for u in identity.list_users()]
    assert listed == [("amy", True, False), ("max", False, True), ("zoe", False, False)]


# --------------------------------------------------------------------------- local only: the hashes themselves


class CountingHasher(PasswordHasher):
    """A real argon2 hasher that also counts how often it verifies."""

    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


def _stored_hash(local_settings: Settings, username: str) -> str:
    """Read straight from the SQLite file, not through the adapter under test."""
    with closing(sqlite3.connect(Path(local_settings.data_dir) / "yoto.db")) as db:
        row = db.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    return str(row[0])


def test_hashes_are_argon2id_and_unknown_users_cost_a_verify(local_settings: Settings) -> None:
    from adapters.local.identity import LocalIdentity

    hasher = CountingHasher()
    identity = LocalIdentity(local_settings, Adapters(local_settings).records, hasher=hasher)
    identity.create_user("hana", PASSWORD)
    assert _stored_hash(local_settings, "hana").startswith("$argon2id$")
    assert PASSWORD not in _stored_hash(local_settings, "hana")
    before = hasher.verified
    assert identity.authenticate("nobody", PASSWORD) is None
    assert identity.authenticate("hana", OTHER) is None
    assert identity.authenticate("bad name!", OTHER) is None
    assert hasher.verified - before == 3


def test_hash_is_upgraded_when_parameters_change(local_settings: Settings) -> None:
    from adapters.local.identity import LocalIdentity

    records = Adapters(local_settings).records
    LocalIdentity(local_settings, records, hasher=PasswordHasher(time_cost=1, memory_cost=8192)).create_user(
        "ivan", PASSWORD
    )
    weak = _stored_hash(local_settings, "ivan")
    assert "m=8192,t=1" in weak
    current = LocalIdentity(local_settings, records)
    assert current.authenticate("ivan", OTHER) is None
    assert _stored_hash(local_settings, "ivan") == weak  # a wrong password changes nothing
    assert current.authenticate("ivan", PASSWORD) is not None
    upgraded = _stored_hash(local_settings, "ivan")
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    assert current.authenticate("ivan", PASSWORD) is not None


def test_password_hash_is_argon2_locally_never_from_cognito(identity: Identity, backend_settings: Settings) -> None:
    identity.create_user("erin", PASSWORD)
    stored = identity.password_hash("Erin")
    if backend_settings.use_aws:
        assert stored is None
    else:
        assert stored is not None and stored.startswith("$argon2id$")
        assert PasswordHasher().verify(stored, PASSWORD)
    with pytest.raises(NotFound):
        identity.password_hash("nobody")
