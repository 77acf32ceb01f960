"""SQLite repositories for scheduled work: podcasts, routines, jobs and their runs.

One generic repository serves the four: each is a record table (`sql_tables`)
with owner listings, newest first, and a compare-and-swap `save` on `version`.
"""

from __future__ import annotations

import builtins
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from adapters.keyset import check_limit
from adapters.local import sql_tables as t
from adapters.local.sql_engine import Database
from adapters.local.sql_library import delete_existing, get_one, insert_new, page_newest_first, swap_version
from core.records import Page, Run, utcnow

R = TypeVar("R")
# What a save never changes; `version` and `updated_at` are the store's to set.
_KEPT = frozenset({"id", "owner", "created_at", "updated_at", "version"})


class SqlVersioned(Generic[R]):
    def __init__(self, db: Database, table: t.RecordTable[R], label: str) -> None:
        self._db = db
        self._rt = table
        self._label = label

    @property
    def _table(self) -> sa.Table:
        return self._rt.table

    def add(self, record: R) -> None:
        insert_new(self._db, self._table, self._rt.row(record), self._label)

    def get(self, record_id: str) -> R:
        return self._rt.load(get_one(self._db, self._table, record_id, self._label))

    def save(self, record: R, *, expected_version: int) -> R:
        changes: dict[str, Any] = {n: getattr(record, n) for n in self._rt.codec.names if n not in _KEPT}
        values = self._rt.values(**changes, updated_at=utcnow())
        record_id = record.id  # type: ignore[attr-defined]
        row = swap_version(self._db, self._table.c.id, record_id, expected_version, values, self._label)
        return self._rt.load(row)

    def delete(self, record_id: str) -> None:
        delete_existing(self._db, self._table, record_id, self._label)

    def give(self, record_id: str, owner: str, *, expected_version: int) -> R:
        values = self._rt.values(owner=owner, updated_at=utcnow())
        return self._rt.load(swap_version(self._db, self._table.c.id, record_id, expected_version, values, self._label))

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[R]:
        filters = [] if owner is None else [self._table.c.owner == owner]
        return page_newest_first(self._db, self._table, filters, limit=limit, cursor=cursor, to_record=self._rt.load)


class SqlRuns(SqlVersioned[Run]):
    def recent(self, subject_id: str, *, limit: int = 20) -> builtins.list[Run]:
        check_limit(limit)
        c = self._table.c
        stmt = (
            sa.select(self._table)
            .where(c.subject_id == subject_id)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )
        with self._db.read() as conn:
            return [self._rt.load(r) for r in conn.execute(stmt).all()]
