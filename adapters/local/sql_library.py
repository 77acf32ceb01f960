"""SQLite repositories for the family library: audio items, pending uploads, playlists, cards."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from adapters.keyset import check_limit
from adapters.local import sql_tables as t
from adapters.local.sql_engine import Database
from core.codec import given
from core.errors import AlreadyExists, NotFound, VersionConflict
from core.records import AudioItem, Card, Page, PendingUpload, Playlist, StreamRef, Usage, saved_fields, utcnow

R = TypeVar("R")


def insert_new(db: Database, table: sa.Table, row: dict[str, Any], what: str) -> None:
    try:
        with db.write() as conn:
            conn.execute(sa.insert(table).values(**row))
    except sa.exc.IntegrityError as exc:
        raise AlreadyExists(f"{what} {row.get('id')!r} already exists") from exc


def swap_version(
    db: Database, key: sa.Column[Any], key_value: str, expected_version: int, values: dict[str, Any], what: str
) -> sa.Row[Any]:
    """Compare-and-swap: apply `values` (with version = expected + 1) to the row
    whose `key` is `key_value`, only while it is at `expected_version`.
    `NotFound` when there is no such row, `VersionConflict` when it moved on."""
    table = key.table
    with db.write() as conn:
        stmt = (
            sa.update(table)
            .where(key == key_value, table.c.version == expected_version)
            .values(**values, version=expected_version + 1)
            .returning(*table.c)
        )
        row = conn.execute(stmt).first()
        if row is None:
            stored = conn.execute(sa.select(table.c.version).where(key == key_value)).scalar()
            if stored is None:
                raise NotFound(f"no {what} {key_value!r}")
            raise VersionConflict(f"{what} {key_value!r} is at version {stored}, not the expected {expected_version}")
    return row


def delete_existing(db: Database, table: sa.Table, record_id: str, what: str) -> None:
    with db.write() as conn:
        if conn.execute(sa.delete(table).where(table.c.id == record_id)).rowcount == 0:
            raise NotFound(f"no {what} {record_id!r}")


def get_one(db: Database, table: sa.Table, record_id: str, what: str, *where: sa.ColumnElement[bool]) -> sa.Row[Any]:
    with db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == record_id, *where)).first()
    if row is None:
        raise NotFound(f"no {what} {record_id!r}")
    return row


def page_newest_first(
    db: Database,
    table: sa.Table,
    filters: list[sa.ColumnElement[bool]],
    *,
    limit: int,
    cursor: str | None,
    to_record: Callable[[sa.Row[Any]], R],
) -> Page[R]:
    """Keyset paging on (created_at, id) descending (`adapters.keyset`)."""
    check_limit(limit)
    stmt = sa.select(table).where(*filters)
    if cursor is not None:
        created_us, record_id = t.decode_cursor(cursor)
        stmt = stmt.where(
            sa.or_(
                table.c.created_at < created_us,
                sa.and_(table.c.created_at == created_us, table.c.id < record_id),
            )
        )
    stmt = stmt.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = t.encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return Page(items=[to_record(r) for r in rows], next_cursor=next_cursor)


def ids_containing(db: Database, table: sa.Table, audio_id: str) -> list[str]:
    """Ids of rows whose JSON `audio_ids` array holds exactly `audio_id` (not a substring of one)."""
    member = sa.text("EXISTS (SELECT 1 FROM json_each(audio_ids) WHERE json_each.value = :audio_id)")
    stmt = sa.select(table.c.id).where(member.bindparams(audio_id=audio_id)).order_by(table.c.id)
    with db.read() as conn:
        return list(conn.scalars(stmt))


def update_one(db: Database, table: sa.Table, record_id: str, values: dict[str, Any], what: str) -> sa.Row[Any]:
    with db.write() as conn:
        stmt = sa.update(table).where(table.c.id == record_id).values(**values).returning(*table.c)
        row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(f"no {what} {record_id!r}")
    return row


# --------------------------------------------------------------------------- audio


_STREAM_REF_SQL = f"SELECT stream_key, storage_key FROM {t.audio.name} WHERE id = ?"


class SqlAudio:
    reads_locally = True

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, item: AudioItem) -> None:
        insert_new(self._db, t.audio, t.AUDIO.row(item), "audio item")

    def get(self, item_id: str) -> AudioItem:
        return t.AUDIO.load(get_one(self._db, t.audio, item_id, "audio item"))

    def stream_ref(self, item_id: str) -> StreamRef:
        row = self._db.read_row(_STREAM_REF_SQL, (item_id,))
        if row is None:
            raise NotFound(f"no audio item {item_id!r}")
        return StreamRef(stream_key=row[0], storage_key=row[1])

    def list(
        self,
        *,
        owner: str | None = None,
        query: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AudioItem]:
        filters: list[sa.ColumnElement[bool]] = []
        if owner is not None:
            filters.append(t.audio.c.owner == owner)
        if query:
            # instr, not LIKE: '%' and '_' in a search are ordinary characters
            filters.append(sa.func.instr(t.audio.c.title_fold, t.fold(query)) > 0)
        return page_newest_first(self._db, t.audio, filters, limit=limit, cursor=cursor, to_record=t.AUDIO.load)

    def update(
        self,
        item_id: str,
        *,
        title: str | None = None,
        stream_key: str | None = None,
        owner: str | None = None,
    ) -> AudioItem:
        changes = given(title=title, stream_key=stream_key, owner=owner)
        if not changes:
            return self.get(item_id)
        return t.AUDIO.load(update_one(self._db, t.audio, item_id, t.AUDIO.values(**changes), "audio item"))

    def delete(self, item_id: str) -> None:
        delete_existing(self._db, t.audio, item_id, "audio item")

    def usage(self, owner: str) -> Usage:
        stmt = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(t.audio.c.size_bytes), 0)).where(
            t.audio.c.owner == owner
        )
        with self._db.read() as conn:
            items, total = conn.execute(stmt).one()
        return Usage(items=int(items), bytes=int(total))


# --------------------------------------------------------------------------- uploads


class SqlUploads:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, upload: PendingUpload) -> None:
        insert_new(self._db, t.uploads, t.UPLOADS.row(upload), "upload")

    def get(self, upload_id: str) -> PendingUpload:
        return t.UPLOADS.load(get_one(self._db, t.uploads, upload_id, "upload", t.uploads.c.expires_at > t.now_us()))

    def delete(self, upload_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(sa.delete(t.uploads).where(t.uploads.c.id == upload_id))


# --------------------------------------------------------------------------- playlists


class SqlPlaylists:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, playlist: Playlist) -> None:
        insert_new(self._db, t.playlists, t.PLAYLISTS.row(playlist), "playlist")

    def get(self, playlist_id: str) -> Playlist:
        return t.PLAYLISTS.load(get_one(self._db, t.playlists, playlist_id, "playlist"))

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Playlist]:
        filters = [] if owner is None else [t.playlists.c.owner == owner]
        return page_newest_first(self._db, t.playlists, filters, limit=limit, cursor=cursor, to_record=t.PLAYLISTS.load)

    def save(self, playlist: Playlist, *, expected_version: int) -> Playlist:
        values = t.PLAYLISTS.values(**saved_fields(playlist), updated_at=utcnow())
        row = swap_version(self._db, t.playlists.c.id, playlist.id, expected_version, values, "playlist")
        return t.PLAYLISTS.load(row)

    def delete(self, playlist_id: str) -> None:
        delete_existing(self._db, t.playlists, playlist_id, "playlist")

    def give(self, playlist_id: str, owner: str, *, expected_version: int) -> Playlist:
        values = t.PLAYLISTS.values(owner=owner, updated_at=utcnow())
        row = swap_version(self._db, t.playlists.c.id, playlist_id, expected_version, values, "playlist")
        return t.PLAYLISTS.load(row)

    def using_audio(self, audio_id: str) -> builtins.list[str]:
        return ids_containing(self._db, t.playlists, audio_id)


# --------------------------------------------------------------------------- cards


class SqlCards:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, card: Card) -> None:
        insert_new(self._db, t.cards, t.CARDS.row(card), "card")

    def get(self, card_id: str) -> Card:
        return t.CARDS.load(get_one(self._db, t.cards, card_id, "card"))

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Card]:
        filters = [] if owner is None else [t.cards.c.owner == owner]
        return page_newest_first(self._db, t.cards, filters, limit=limit, cursor=cursor, to_record=t.CARDS.load)

    def update(self, card: Card) -> Card:
        """Every field but the identity and creation (id, owner, created_at) is replaced."""
        kept = ("id", "owner", "created_at", "updated_at")
        changes = {n: getattr(card, n) for n in t.CARDS.codec.names if n not in kept}
        values = t.CARDS.values(**changes, updated_at=utcnow())
        return t.CARDS.load(update_one(self._db, t.cards, card.id, values, "card"))

    def delete(self, card_id: str) -> None:
        delete_existing(self._db, t.cards, card_id, "card")

    def using_audio(self, audio_id: str) -> builtins.list[str]:
        return ids_containing(self._db, t.cards, audio_id)
