"""Podcasts, routines, scheduled jobs and runs in the DynamoDB table.

One item per record (`<KIND>#<id>` / `<KIND>`), listed newest first through
GSI1 (every record of the kind; for runs: the runs of one podcast or routine)
and GSI2 (one owner's). `save` is a PutItem conditional on the stored
`version`, which is how two schedulers (two Lambda ticks, a laptop waking up)
never both claim one due job. Layout: docs/dynamodb.md.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Any, Generic, TypeVar

from adapters.aws import dynamo_codecs as codecs
from adapters.aws.dynamo_table import PK, SK, ConditionFailed, Table, iso
from adapters.keyset import check_limit
from core.codec import RecordCodec
from core.errors import AlreadyExists, NotFound, VersionConflict
from core.records import Page, Run, utcnow

R = TypeVar("R")
_NEW = "attribute_not_exists(PK)"


class DynamoVersioned(Generic[R]):
    def __init__(self, table: Table, codec: RecordCodec[R], kind: str, label: str) -> None:
        self._t = table
        self._codec = codec
        self.kind = kind
        self.label = label

    def _pk(self, record_id: str) -> str:
        return f"{self.kind}#{record_id}"

    def _listing(self, record: Any) -> str:
        """GSI1's partition: where `list(owner=None)` (or a run's subject listing) reads."""
        return self.kind

    def _item(self, record: Any) -> dict[str, Any]:
        order = f"{iso(record.created_at)}#{record.id}"
        return {
            PK: self._pk(record.id),
            SK: self.kind,
            "GSI1PK": self._listing(record),
            "GSI1SK": order,
            "GSI2PK": f"OWNER#{record.owner}#{self.kind}",
            "GSI2SK": order,
            "entity": self.kind.lower(),
            **self._codec.dump(record),
        }

    def add(self, record: R) -> None:
        try:
            self._t.put(self._item(record), condition=_NEW)
        except ConditionFailed:
            raise AlreadyExists(f"{self.label} {record.id!r} already exists") from None  # type: ignore[attr-defined]

    def get(self, record_id: str) -> R:
        item = self._t.get(self._pk(record_id), self.kind)
        if item is None:
            raise NotFound(f"no {self.label} {record_id!r}")
        return self._codec.load(item)

    def save(self, record: R, *, expected_version: int) -> R:
        stored: Any = self.get(record.id)  # type: ignore[attr-defined]
        return self._put_at(replace(record, owner=stored.owner, created_at=stored.created_at), expected_version)  # type: ignore[type-var]

    def give(self, record_id: str, owner: str, *, expected_version: int) -> R:
        stored: Any = self.get(record_id)
        if stored.version != expected_version:
            raise VersionConflict(f"{self.label} {record_id!r} is at version {stored.version}, not {expected_version}")
        return self._put_at(replace(stored, owner=owner), expected_version)

    def _put_at(self, record: Any, expected_version: int) -> R:
        """Store `record` as version + 1 while the stored one is at `expected_version`."""
        new = replace(record, version=expected_version + 1, updated_at=utcnow())
        try:
            self._t.put(self._item(new), condition="version = :v", values={":v": expected_version})
        except ConditionFailed:
            if self._t.get(self._pk(new.id), self.kind) is None:
                raise NotFound(f"no {self.label} {new.id!r}") from None
            raise VersionConflict(f"{self.label} {new.id!r} is no longer at version {expected_version}") from None
        return new  # type: ignore[no-any-return]

    def delete(self, record_id: str) -> None:
        try:
            self._t.delete(self._pk(record_id), self.kind, condition="attribute_exists(PK)")
        except ConditionFailed:
            raise NotFound(f"no {self.label} {record_id!r}") from None

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[R]:
        check_limit(limit)
        if owner is not None:
            res = self._t.query(partition=f"OWNER#{owner}#{self.kind}", index="GSI2", limit=limit, cursor=cursor)
        else:
            res = self._t.query(partition=self.kind, index="GSI1", limit=limit, cursor=cursor)
        return Page([self._codec.load(i) for i in res.items], res.next_cursor)


class DynamoRuns(DynamoVersioned[Run]):
    """GSI1 holds each subject's runs (`RUNS#<subject id>`), not every run."""

    def _listing(self, record: Any) -> str:
        return f"RUNS#{record.subject_id}"

    def recent(self, subject_id: str, *, limit: int = 20) -> builtins.list[Run]:
        check_limit(limit)
        res = self._t.query(partition=f"RUNS#{subject_id}", index="GSI1", limit=limit)
        return [self._codec.load(i) for i in res.items]


def schedule_repositories(table: Table) -> dict[str, Any]:
    return {
        "podcasts": DynamoVersioned(table, codecs.PODCASTS, "PODCAST", "podcast"),
        "routines": DynamoVersioned(table, codecs.ROUTINES, "ROUTINE", "routine"),
        "stories": DynamoVersioned(table, codecs.STORIES, "STORY", "story"),
        "jobs": DynamoVersioned(table, codecs.JOBS, "JOB", "scheduled job"),
        "runs": DynamoRuns(table, codecs.RUNS, "RUN", "run"),
    }
