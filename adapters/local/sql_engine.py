"""The SQLite engine the records adapter (and the local identity adapter) share.

Every connection is put in WAL mode with a busy timeout, and the driver's own
transaction handling is switched off so that SQLAlchemy's `begin` decides
what SQLite sees: plain `BEGIN` for reads, `BEGIN IMMEDIATE` for writes. The
immediate form takes the write lock up front, so a read-modify-write cannot
lose an update to another thread or process, and a waiting writer goes through
the busy handler instead of failing at once with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

BUSY_TIMEOUT_MS = 30_000
_WRITE = "yoto_write"


def create_sqlite_engine(path: Path, *, read_only: bool = False) -> sa.Engine:
    """`read_only` opens an existing file with SQLite's `mode=ro`: any write fails
    inside SQLite itself (the migration reads its source this way)."""
    if read_only:
        if not path.is_file():
            raise FileNotFoundError(f"no database at {path}")
        url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=16,
        pool_timeout=60,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not read_only:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


class Database:
    """Short transactions over one engine; safe to share between threads."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def read_row(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of one SELECT, run on a pooled driver connection below
        SQLAlchemy's execution layer: some 30 us instead of some 400 us, for
        reads on a hot path (the player stream). One statement in autocommit
        is its own consistent snapshot, so no BEGIN is needed."""
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                row = cursor.execute(sql, params).fetchone()
            finally:
                cursor.close()
        finally:
            conn.close()  # back to the pool
        return tuple(row) if row is not None else None

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A transaction holding SQLite's write lock from its first statement; commits on success."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn
