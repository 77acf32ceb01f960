"""The SQLite tables of the records adapter, and the conversions its columns need.

Times are stored as integer microseconds since the Unix epoch (UTC): they sort
and compare exactly in SQL, which keyset paging and expiry checks rely on, and
they cannot come back naive. JSON values are stored as text the adapter
serialises itself, so a `None` setting is the JSON `null`, not SQL NULL.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

metadata = sa.MetaData()


def _created(table: str) -> sa.Index:
    return sa.Index(f"ix_{table}_created", "created_at", "id")


def _owner_created(table: str) -> sa.Index:
    return sa.Index(f"ix_{table}_owner_created", "owner", "created_at", "id")


audio = sa.Table(
    "audio",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("title_fold", sa.Text, nullable=False),
    sa.Column("storage_key", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("format", sa.Text, nullable=False),
    sa.Column("stream_key", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    _created("audio"),
    _owner_created("audio"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("storage_key", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("filename", sa.Text),
    sa.Column("max_bytes", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

playlists = sa.Table(
    "playlists",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("audio_ids", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    _created("playlists"),
    _owner_created("playlists"),
)

cards = sa.Table(
    "cards",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("yoto_card_id", sa.Text),
    sa.Column("playlist_id", sa.Text),
    sa.Column("audio_ids", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    _created("cards"),
    _owner_created("cards"),
)

tokens = sa.Table(
    "yoto_tokens",
    metadata,
    sa.Column("account", sa.Text, primary_key=True),
    sa.Column("access_token", sa.Text, nullable=False),
    sa.Column("refresh_token", sa.Text, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

player_states = sa.Table(
    "player_states",
    metadata,
    sa.Column("player_id", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

player_events = sa.Table(
    "player_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("player_id", sa.Text, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index("ix_player_events_player_at", "player_id", "at"),
)

app_settings = sa.Table(
    "app_settings",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("username", sa.Text, nullable=False, index=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)


# --------------------------------------------------------------------------- conversions


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is refused rather than guessed at."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"times must be timezone-aware datetimes, got {moment!r}")
    return (moment - EPOCH) // _MICRO


def from_us(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def now_us() -> int:
    return to_us(datetime.now(UTC))


def dump_json(value: Any) -> str:
    """Serialise before any write, so a value JSON cannot hold fails with nothing stored."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"value cannot be stored as JSON: {exc}") from exc


def dump_ids(ids: tuple[str, ...] | list[str]) -> str:
    if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
        raise ValueError(f"audio_ids must be a sequence of id strings, got {ids!r}")
    return dump_json(list(ids))


def load_ids(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def fold(text: str) -> str:
    """The form titles are searched in: NFC-normalised and case-folded (so 'É' finds 'é')."""
    return unicodedata.normalize("NFC", text).casefold()


# --------------------------------------------------------------------------- paging cursors


def encode_cursor(created_us: int, record_id: str) -> str:
    raw = json.dumps([created_us, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (created_at, id) position a page ended at; ValueError for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_us, record_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid paging cursor {cursor[:40]!r}") from exc
    if not isinstance(created_us, int) or isinstance(created_us, bool) or not isinstance(record_id, str):
        raise ValueError(f"invalid paging cursor {cursor[:40]!r}")
    return created_us, record_id
