"""The SQLite tables of the records adapter, and the conversions its columns need.

A record's table is derived from its dataclass (`record_table`): one column
per field, typed by the field's kind, NOT NULL unless the field admits None,
plus the extra columns an index needs (`title_fold`). Rows go in and out
through the record's codec (`core.codec`), so adding a field to a record adds
its column here without another line (a new column on an existing database
file still needs an `ALTER TABLE`; `create_all` only makes missing tables).

Times are stored as integer microseconds since the Unix epoch (UTC): they sort
and compare exactly in SQL, which keyset paging and expiry checks rely on, and
they cannot come back naive. JSON values are stored as text the adapter
serialises itself, so a `None` setting is the JSON `null`, not SQL NULL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from adapters.keyset import decode_cursor, encode_cursor, fold
from core.codec import EPOCH, JSON_TEXT, MICROS, SCALARS, Conversion, RecordCodec, dump_json, from_us, ids_tuple, to_us
from core.errors import ConfigError
from core.records import (
    AudioItem,
    Card,
    Job,
    PasswordFallback,
    PendingUpload,
    PlayerEvent,
    PlayerState,
    Playlist,
    Podcast,
    Routine,
    Run,
    Session,
    Story,
    YotoTokens,
)

__all__ = ["EPOCH", "decode_cursor", "dump_json", "encode_cursor", "fold", "from_us", "to_us"]

R = TypeVar("R")

metadata = sa.MetaData()


def dump_ids(ids: tuple[str, ...] | list[str]) -> str:
    return dump_json(list(ids_tuple(ids)))


def load_ids(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


# How each kind of record field is kept in a column, and the column type it gets.
CONVERSIONS: dict[type, Conversion] = {
    **SCALARS,
    datetime: MICROS,
    tuple: Conversion(dump_ids, load_ids),
    dict: JSON_TEXT,
    list: JSON_TEXT,
}
_COLUMN_TYPES: dict[type, type[sa.types.TypeEngine[Any]]] = {
    str: sa.Text,
    int: sa.BigInteger,
    float: sa.Float,
    bool: sa.Boolean,
    datetime: sa.BigInteger,
    tuple: sa.Text,
    dict: sa.Text,
    list: sa.Text,
}


@dataclass(frozen=True)
class RecordTable(Generic[R]):
    """A table whose columns are a record's fields (derived from the dataclass),
    plus any `derived` columns computed from one field (column -> (field, function))."""

    table: sa.Table
    codec: RecordCodec[R]
    derived: Mapping[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)

    @property
    def c(self) -> Any:
        return self.table.c

    def row(self, record: R, **extra: Any) -> dict[str, Any]:
        values = self.codec.dump(record)
        values.update({col: fn(getattr(record, src)) for col, (src, fn) in self.derived.items()})
        return {**values, **extra}

    def values(self, **changes: Any) -> dict[str, Any]:
        """Column values for an UPDATE of some fields (record-form values), derived columns included."""
        values = self.codec.dump_values(**changes)
        values.update({col: fn(changes[src]) for col, (src, fn) in self.derived.items() if src in changes})
        return values

    def load(self, row: sa.Row[Any] | Mapping[str, Any], **overrides: Any) -> R:
        return self.codec.load(row if isinstance(row, Mapping) else row._mapping, **overrides)


def record_table(
    name: str,
    record_type: type[R],
    *,
    primary_key: str | None,
    extra: tuple[sa.Column[Any], ...] = (),
    derived: Mapping[str, tuple[str, Callable[[Any], Any]]] | None = None,
    indexes: tuple[sa.Index, ...] = (),
    into: sa.MetaData = metadata,
) -> RecordTable[R]:
    """The table of one record type: a column per field (NOT NULL unless the field
    admits None), `extra` columns (derived ones included) and `indexes`."""
    codec = RecordCodec(record_type, CONVERSIONS)
    columns = [
        sa.Column(f.name, _COLUMN_TYPES[f.kind], primary_key=f.name == primary_key, nullable=f.optional)
        for f in codec.fields
    ]
    table = sa.Table(name, into, *columns, *extra, *indexes)
    return RecordTable(table, codec, dict(derived or {}))


def add_missing_columns(conn: sa.Connection, tables: tuple[RecordTable[Any], ...] | None = None) -> list[str]:
    """Give an existing database file the columns of fields added to a record since
    it was made (`create_all` only creates missing tables); returns "table.column"s.

    A new field that admits None, or has a plain default, is added (old rows get
    None or that default). A field whose default is made per record (a factory,
    such as a fresh secret) has no value old rows could share, so it is refused
    with a message saying what to do."""
    added: list[str] = []
    for record in RECORD_TABLES if tables is None else tables:
        have = {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{record.table.name}")')}
        if not have:
            continue  # create_all has just made it whole
        for column in record.table.columns:
            if column.name in have:
                continue
            ddl = f'ALTER TABLE "{record.table.name}" ADD COLUMN "{column.name}" {column.type.compile(conn.dialect)}'
            if not column.nullable:
                spec = record.codec.field(column.name) if column.name in record.codec.names else None
                if spec is None or spec.default is None or spec.factory:
                    raise ConfigError(
                        f"the database in use lacks column {record.table.name}.{column.name}, which has no "
                        "value existing rows could share; add it with a migration"
                    )
                value = record.codec.dump_value(column.name, spec.default())
                literal = sa.literal(value, column.type).compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                ddl += f" NOT NULL DEFAULT {literal}"
            conn.exec_driver_sql(ddl)
            added.append(f"{record.table.name}.{column.name}")
    return added


def _created(table: str) -> sa.Index:
    return sa.Index(f"ix_{table}_created", "created_at", "id")


def _owner_created(table: str) -> sa.Index:
    return sa.Index(f"ix_{table}_owner_created", "owner", "created_at", "id")


AUDIO = record_table(
    "audio",
    AudioItem,
    primary_key="id",
    extra=(sa.Column("title_fold", sa.Text, nullable=False),),
    derived={"title_fold": ("title", fold)},
    indexes=(_created("audio"), _owner_created("audio")),
)
UPLOADS = record_table("uploads", PendingUpload, primary_key="id")
PLAYLISTS = record_table(
    "playlists", Playlist, primary_key="id", indexes=(_created("playlists"), _owner_created("playlists"))
)
CARDS = record_table("cards", Card, primary_key="id", indexes=(_created("cards"), _owner_created("cards")))
TOKENS = record_table("yoto_tokens", YotoTokens, primary_key="account")
PLAYER_STATES = record_table("player_states", PlayerState, primary_key="player_id")
PLAYER_EVENTS = record_table(
    "player_events",
    PlayerEvent,
    primary_key=None,
    extra=(
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    ),
    indexes=(sa.Index("ix_player_events_player_at", "player_id", "at"),),
)
SESSIONS = record_table("sessions", Session, primary_key="id", indexes=(sa.Index("ix_sessions_username", "username"),))
PODCASTS = record_table(
    "podcasts", Podcast, primary_key="id", indexes=(_created("podcasts"), _owner_created("podcasts"))
)
ROUTINES = record_table(
    "routines", Routine, primary_key="id", indexes=(_created("routines"), _owner_created("routines"))
)
STORIES = record_table("stories", Story, primary_key="id", indexes=(_created("stories"), _owner_created("stories")))
JOBS = record_table("jobs", Job, primary_key="id", indexes=(_created("jobs"), _owner_created("jobs")))
RUNS = record_table(
    "runs",
    Run,
    primary_key="id",
    indexes=(_created("runs"), _owner_created("runs"), sa.Index("ix_runs_subject_created", "subject_id", "created_at")),
)
FALLBACKS = record_table("password_fallbacks", PasswordFallback, primary_key="username")

RECORD_TABLES: tuple[RecordTable[Any], ...] = (
    AUDIO,
    UPLOADS,
    PLAYLISTS,
    CARDS,
    TOKENS,
    PLAYER_STATES,
    PLAYER_EVENTS,
    SESSIONS,
    PODCASTS,
    ROUTINES,
    STORIES,
    JOBS,
    RUNS,
    FALLBACKS,
)

audio = AUDIO.table
uploads = UPLOADS.table
playlists = PLAYLISTS.table
cards = CARDS.table
tokens = TOKENS.table
player_states = PLAYER_STATES.table
player_events = PLAYER_EVENTS.table
sessions = SESSIONS.table
fallbacks = FALLBACKS.table

app_settings = sa.Table(
    "app_settings",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)


# --------------------------------------------------------------------------- time


def now_us() -> int:
    return to_us(datetime.now(UTC))
