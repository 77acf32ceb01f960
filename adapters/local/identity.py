"""Family users in the local SQLite database, with argon2id password hashes.

The `users` table sits in the records database (through `SqlRecords.engine`)
but is declared here, by the only code that reads it. sqlalchemy and argon2
are imported when a `LocalIdentity` is built, not when this module is: the
username rule below is shared with the Cognito adapter, which runs on Lambda
where neither package is shipped.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.errors import AlreadyExists, NotFound
from core.password_policy import MAX_LENGTH, password_problem
from core.records import User, utcnow
from core.settings import Settings
from core.usernames import canonical_username

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from core.ports import Records


def check_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)
    return password


def _users_table() -> Any:
    import sqlalchemy as sa

    return sa.Table(
        "users",
        sa.MetaData(),
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
        sa.Column("disabled", sa.Boolean, nullable=False, default=False),
        sa.Column("created_at", sa.String(40), nullable=False),  # ISO 8601 with offset: SQLite has no tz type
    )


class LocalIdentity:
    """The `Identity` port on SQLite and argon2id."""

    def __init__(
        self, settings: Settings, records: Records, *, hasher: PasswordHasher | None = None, read_only: bool = False
    ) -> None:
        from argon2 import PasswordHasher
        from sqlalchemy.schema import CreateTable

        from adapters.local.sql_engine import Database

        self._db = Database(records.engine)  # type: ignore[attr-defined]
        self._users = _users_table()
        if not read_only:
            with self._db.write() as conn:
                conn.execute(CreateTable(self._users, if_not_exists=True))
        self._hasher = hasher or PasswordHasher()
        # Unknown users are checked against this hash, so they cost the same time as known ones.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> User:
        import sqlalchemy as sa

        name = canonical_username(username)
        password_hash = self._hasher.hash(check_password(password))
        user = User(username=name, is_admin=is_admin, disabled=False, created_at=utcnow())
        try:
            with self._db.write() as conn:
                conn.execute(
                    self._users.insert().values(
                        username=name,
                        password_hash=password_hash,
                        is_admin=is_admin,
                        disabled=False,
                        created_at=user.created_at.isoformat(),
                    )
                )
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"user {name!r} already exists") from None
        return user

    def authenticate(self, username: str, password: str) -> User | None:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            name: str | None = canonical_username(username)
        except ValueError:
            name = None
        row = self._row(name) if name else None
        stored = row.password_hash if row is not None else self._dummy_hash
        try:
            self._hasher.verify(stored, password[: MAX_LENGTH + 1])
            right = len(password) <= MAX_LENGTH
        except (VerificationError, InvalidHashError):
            right = False
        if row is None or not right or row.disabled:
            return None
        if self._hasher.check_needs_rehash(stored):
            self._set(row.username, password_hash=self._hasher.hash(password))
        return _user(row)

    def get_user(self, username: str) -> User:
        row = self._row(canonical_username(username))
        if row is None:
            raise NotFound(f"no user {username!r}")
        return _user(row)

    def list_users(self) -> list[User]:
        with self._db.read() as conn:
            rows = conn.execute(self._users.select().order_by(self._users.c.username)).all()
        return [_user(row) for row in rows]

    def update_user(
        self,
        username: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        name = canonical_username(username)
        changes: dict[str, Any] = {}
        if password is not None:
            changes["password_hash"] = self._hasher.hash(check_password(password))
        if is_admin is not None:
            changes["is_admin"] = is_admin
        if disabled is not None:
            changes["disabled"] = disabled
        if changes:
            self._set(name, **changes)
        return self.get_user(name)

    def delete_user(self, username: str) -> None:
        name = canonical_username(username)
        with self._db.write() as conn:
            gone = conn.execute(self._users.delete().where(self._users.c.username == name)).rowcount
        if not gone:
            raise NotFound(f"no user {username!r}")

    def password_hash(self, username: str) -> str | None:
        row = self._row(canonical_username(username))
        if row is None:
            raise NotFound(f"no user {username!r}")
        return str(row.password_hash)

    def _row(self, name: str) -> Any:
        with self._db.read() as conn:
            return conn.execute(self._users.select().where(self._users.c.username == name)).first()

    def _set(self, name: str, **changes: Any) -> None:
        with self._db.write() as conn:
            found = conn.execute(self._users.update().where(self._users.c.username == name).values(**changes)).rowcount
        if not found:
            raise NotFound(f"no user {name!r}")


def _user(row: Any) -> User:
    return User(
        username=row.username,
        is_admin=bool(row.is_admin),
        disabled=bool(row.disabled),
        created_at=datetime.fromisoformat(row.created_at),
    )
