"""SQLite repositories for the family library: audio items, pending uploads, playlists, cards."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from adapters.local import sql_tables as t
from adapters.local.sql_engine import Database
from core.errors import AlreadyExists, NotFound, VersionConflict
from core.records import AudioItem, Card, Page, PendingUpload, Playlist

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
    """Keyset paging on (created_at, id) descending: a cursor names the last row
    handed out, so rows added meanwhile neither repeat nor push others out."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
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


# --------------------------------------------------------------------------- audio


def _audio(row: sa.Row[Any]) -> AudioItem:
    return AudioItem(
        id=row.id,
        owner=row.owner,
        title=row.title,
        storage_key=row.storage_key,
        size_bytes=row.size_bytes,
        duration_s=row.duration_s,
        format=row.format,
        stream_key=row.stream_key,
        source=row.source,
        created_at=t.from_us(row.created_at),
    )


class SqlAudio:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, item: AudioItem) -> None:
        row = {
            "id": item.id,
            "owner": item.owner,
            "title": item.title,
            "title_fold": t.fold(item.title),
            "storage_key": item.storage_key,
            "size_bytes": item.size_bytes,
            "duration_s": item.duration_s,
            "format": item.format,
            "stream_key": item.stream_key,
            "source": item.source,
            "created_at": t.to_us(item.created_at),
        }
        insert_new(self._db, t.audio, row, "audio item")

    def get(self, item_id: str) -> AudioItem:
        return _audio(get_one(self._db, t.audio, item_id, "audio item"))

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
        return page_newest_first(self._db, t.audio, filters, limit=limit, cursor=cursor, to_record=_audio)

    def update(self, item_id: str, *, title: str | None = None, stream_key: str | None = None) -> AudioItem:
        values: dict[str, Any] = {}
        if title is not None:
            values.update(title=title, title_fold=t.fold(title))
        if stream_key is not None:
            values["stream_key"] = stream_key
        if not values:
            return self.get(item_id)
        with self._db.write() as conn:
            stmt = sa.update(t.audio).where(t.audio.c.id == item_id).values(**values).returning(*t.audio.c)
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"no audio item {item_id!r}")
        return _audio(row)

    def delete(self, item_id: str) -> None:
        delete_existing(self._db, t.audio, item_id, "audio item")


# --------------------------------------------------------------------------- uploads


class SqlUploads:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, upload: PendingUpload) -> None:
        row = {
            "id": upload.id,
            "owner": upload.owner,
            "storage_key": upload.storage_key,
            "title": upload.title,
            "filename": upload.filename,
            "max_bytes": upload.max_bytes,
            "created_at": t.to_us(upload.created_at),
            "expires_at": t.to_us(upload.expires_at),
        }
        insert_new(self._db, t.uploads, row, "upload")

    def get(self, upload_id: str) -> PendingUpload:
        row = get_one(self._db, t.uploads, upload_id, "upload", t.uploads.c.expires_at > t.now_us())
        return PendingUpload(
            id=row.id,
            owner=row.owner,
            storage_key=row.storage_key,
            title=row.title,
            filename=row.filename,
            max_bytes=row.max_bytes,
            created_at=t.from_us(row.created_at),
            expires_at=t.from_us(row.expires_at),
        )

    def delete(self, upload_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(sa.delete(t.uploads).where(t.uploads.c.id == upload_id))


# --------------------------------------------------------------------------- playlists


def _playlist(row: sa.Row[Any]) -> Playlist:
    return Playlist(
        id=row.id,
        owner=row.owner,
        name=row.name,
        audio_ids=t.load_ids(row.audio_ids),
        version=row.version,
        created_at=t.from_us(row.created_at),
        updated_at=t.from_us(row.updated_at),
    )


class SqlPlaylists:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, playlist: Playlist) -> None:
        row = {
            "id": playlist.id,
            "owner": playlist.owner,
            "name": playlist.name,
            "audio_ids": t.dump_ids(playlist.audio_ids),
            "version": playlist.version,
            "created_at": t.to_us(playlist.created_at),
            "updated_at": t.to_us(playlist.updated_at),
        }
        insert_new(self._db, t.playlists, row, "playlist")

    def get(self, playlist_id: str) -> Playlist:
        return _playlist(get_one(self._db, t.playlists, playlist_id, "playlist"))

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Playlist]:
        filters = [] if owner is None else [t.playlists.c.owner == owner]
        return page_newest_first(self._db, t.playlists, filters, limit=limit, cursor=cursor, to_record=_playlist)

    def save(self, playlist: Playlist, *, expected_version: int) -> Playlist:
        values = {"name": playlist.name, "audio_ids": t.dump_ids(playlist.audio_ids), "updated_at": t.now_us()}
        row = swap_version(self._db, t.playlists.c.id, playlist.id, expected_version, values, "playlist")
        return _playlist(row)

    def delete(self, playlist_id: str) -> None:
        delete_existing(self._db, t.playlists, playlist_id, "playlist")

    def using_audio(self, audio_id: str) -> builtins.list[str]:
        return ids_containing(self._db, t.playlists, audio_id)


# --------------------------------------------------------------------------- cards


def _card(row: sa.Row[Any]) -> Card:
    return Card(
        id=row.id,
        owner=row.owner,
        title=row.title,
        yoto_card_id=row.yoto_card_id,
        playlist_id=row.playlist_id,
        audio_ids=t.load_ids(row.audio_ids),
        created_at=t.from_us(row.created_at),
        updated_at=t.from_us(row.updated_at),
    )


class SqlCards:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, card: Card) -> None:
        row = {
            "id": card.id,
            "owner": card.owner,
            "title": card.title,
            "yoto_card_id": card.yoto_card_id,
            "playlist_id": card.playlist_id,
            "audio_ids": t.dump_ids(card.audio_ids),
            "created_at": t.to_us(card.created_at),
            "updated_at": t.to_us(card.updated_at),
        }
        insert_new(self._db, t.cards, row, "card")

    def get(self, card_id: str) -> Card:
        return _card(get_one(self._db, t.cards, card_id, "card"))

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Card]:
        filters = [] if owner is None else [t.cards.c.owner == owner]
        return page_newest_first(self._db, t.cards, filters, limit=limit, cursor=cursor, to_record=_card)

    def update(self, card: Card) -> Card:
        values = {
            "title": card.title,
            "yoto_card_id": card.yoto_card_id,
            "playlist_id": card.playlist_id,
            "audio_ids": t.dump_ids(card.audio_ids),
            "updated_at": t.now_us(),
        }
        with self._db.write() as conn:
            stmt = sa.update(t.cards).where(t.cards.c.id == card.id).values(**values).returning(*t.cards.c)
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"no card {card.id!r}")
        return _card(row)

    def delete(self, card_id: str) -> None:
        delete_existing(self._db, t.cards, card_id, "card")

    def using_audio(self, audio_id: str) -> builtins.list[str]:
        return ids_containing(self._db, t.cards, audio_id)
