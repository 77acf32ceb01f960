"""The `Records` port in memory: for service tests that must run in milliseconds.

It keeps the same contract as SQLite and DynamoDB (the records contract suite
runs on it as `[memory]`): records are stored through their codec, so a value
a real backend refuses (a naive datetime, a setting JSON cannot hold) is
refused here too and a stored record cannot be changed through a reference
the caller kept; expiry (uploads, sessions, counters, events) is checked
against `clock` on every read, so a test can move time on instead of sleeping.

One lock guards a `MemoryDatabase`; every repository operation holds it, so the
fake is safe to share between threads (the races the contract suite runs
land exactly as on the real sides). Two `MemoryRecords` over one database see
the same records, like two processes over one SQLite file.
"""

from __future__ import annotations

import builtins
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from adapters.keyset import check_limit, decode_cursor, encode_cursor, fold
from core.codec import JSON_TEXT, MICROS, SCALARS, Conversion, RecordCodec, dump_json, given, ids_tuple, to_us
from core.errors import AlreadyExists, NotFound, VersionConflict
from core.records import (
    AudioItem,
    Card,
    Job,
    Page,
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
    StreamRef,
    Usage,
    YotoTokens,
    saved_fields,
    utcnow,
)

R = TypeVar("R")
Clock = Callable[[], datetime]

# Stored values are plain and immutable (or copied through JSON), never the caller's objects.
CONVERSIONS: dict[type, Conversion] = {
    **SCALARS,
    datetime: MICROS,
    tuple: Conversion(ids_tuple, tuple),
    dict: JSON_TEXT,
    list: JSON_TEXT,
}


AUDIO = RecordCodec(AudioItem, CONVERSIONS)
UPLOADS = RecordCodec(PendingUpload, CONVERSIONS)
PLAYLISTS = RecordCodec(Playlist, CONVERSIONS)
CARDS = RecordCodec(Card, CONVERSIONS)
TOKENS = RecordCodec(YotoTokens, CONVERSIONS)
PLAYER_STATES = RecordCodec(PlayerState, CONVERSIONS)
PLAYER_EVENTS = RecordCodec(PlayerEvent, CONVERSIONS)
SESSIONS = RecordCodec(Session, CONVERSIONS)
PODCASTS = RecordCodec(Podcast, CONVERSIONS)
ROUTINES = RecordCodec(Routine, CONVERSIONS)
STORIES = RecordCodec(Story, CONVERSIONS)
JOBS = RecordCodec(Job, CONVERSIONS)
RUNS = RecordCodec(Run, CONVERSIONS)
FALLBACKS = RecordCodec(PasswordFallback, CONVERSIONS)


class MemoryDatabase:
    """The state behind one or more `MemoryRecords`: rows by table, and one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {}
        self.sequence = 0

    def table(self, name: str) -> dict[Any, dict[str, Any]]:
        return self.tables.setdefault(name, {})

    def next_seq(self) -> int:
        self.sequence += 1
        return self.sequence


class _Repo(Generic[R]):
    """A table of one record type, keyed by `key_field`."""

    name: str
    label: str
    key_field = "id"

    def __init__(self, db: MemoryDatabase, clock: Clock, codec: RecordCodec[R]) -> None:
        self._db = db
        self._clock = clock
        self._codec = codec

    @property
    def _rows(self) -> dict[Any, dict[str, Any]]:
        return self._db.table(self.name)

    def _now_us(self) -> int:
        return to_us(self._clock())

    def _insert(self, record: R, **extra: Any) -> None:
        row = {**self._codec.dump(record), **extra}  # converts (and refuses) before anything is stored
        key = row[self.key_field]
        with self._db.lock:
            if key in self._rows:
                raise AlreadyExists(f"{self.label} {key!r} already exists")
            self._rows[key] = row

    def _row(self, key: Any) -> dict[str, Any]:
        row = self._rows.get(key)
        if row is None:
            raise NotFound(f"no {self.label} {key!r}")
        return row

    def _get(self, key: Any) -> R:
        with self._db.lock:
            return self._codec.load(self._row(key))

    def _change(self, key: Any, **changes: Any) -> R:
        """Replace some fields (record-form values) of the stored row; returns the new record."""
        values = self._codec.dump_values(**changes)
        with self._db.lock:
            row = {**self._row(key), **values}
            self._rows[key] = row
            return self._codec.load(row)

    def _give(self, key: Any, owner: str, expected_version: int) -> R:
        """The owner changed, by compare-and-swap on `version`."""
        with self._db.lock:
            stored = self._row(key)
            if stored["version"] != expected_version:
                raise VersionConflict(
                    f"{self.label} {key!r} is at version {stored['version']}, not the expected {expected_version}"
                )
            return self._change(key, owner=owner, version=expected_version + 1, updated_at=self._clock())

    def _delete(self, key: Any, *, missing_ok: bool = False) -> dict[str, Any] | None:
        with self._db.lock:
            row = self._rows.pop(key, None)
        if row is None and not missing_ok:
            raise NotFound(f"no {self.label} {key!r}")
        return row

    def _page(self, keep: Callable[[dict[str, Any]], bool], *, limit: int, cursor: str | None) -> Page[R]:
        """Newest first on (created_at, id), continuing after the cursor's row."""
        check_limit(limit)
        after = decode_cursor(cursor) if cursor is not None else None
        with self._db.lock:
            rows = sorted(
                (r for r in self._rows.values() if keep(r)), key=lambda r: (r["created_at"], r["id"]), reverse=True
            )
        if after is not None:
            rows = [r for r in rows if (r["created_at"], r["id"]) < after]
        more, rows = len(rows) > limit, rows[:limit]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
        return Page(items=[self._codec.load(r) for r in rows], next_cursor=next_cursor)


def _owned(owner: str | None) -> Callable[[dict[str, Any]], bool]:
    return lambda row: owner is None or row["owner"] == owner


# --------------------------------------------------------------------------- library


class MemoryAudio(_Repo[AudioItem]):
    name, label = "audio", "audio item"
    reads_locally = True

    def add(self, item: AudioItem) -> None:
        self._insert(item)

    def get(self, item_id: str) -> AudioItem:
        return self._get(item_id)

    def stream_ref(self, item_id: str) -> StreamRef:
        with self._db.lock:
            row = self._row(item_id)
            return StreamRef(stream_key=row["stream_key"], storage_key=row["storage_key"])

    def list(
        self,
        *,
        owner: str | None = None,
        query: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AudioItem]:
        needle = fold(query) if query else None

        def keep(row: dict[str, Any]) -> bool:
            return _owned(owner)(row) and (needle is None or needle in fold(row["title"]))

        return self._page(keep, limit=limit, cursor=cursor)

    def update(
        self,
        item_id: str,
        *,
        title: str | None = None,
        stream_key: str | None = None,
        owner: str | None = None,
    ) -> AudioItem:
        changes = given(title=title, stream_key=stream_key, owner=owner)
        return self._change(item_id, **changes) if changes else self.get(item_id)

    def delete(self, item_id: str) -> None:
        self._delete(item_id)

    def usage(self, owner: str) -> Usage:
        with self._db.lock:
            sizes = [r["size_bytes"] for r in self._rows.values() if r["owner"] == owner]
        return Usage(items=len(sizes), bytes=sum(sizes))


class MemoryUploads(_Repo[PendingUpload]):
    name, label = "uploads", "upload"

    def add(self, upload: PendingUpload) -> None:
        self._insert(upload)

    def get(self, upload_id: str) -> PendingUpload:
        with self._db.lock:
            row = self._rows.get(upload_id)
            if row is None or row["expires_at"] <= self._now_us():
                raise NotFound(f"upload {upload_id!r} not found or expired")
            return self._codec.load(row)

    def delete(self, upload_id: str) -> None:
        self._delete(upload_id, missing_ok=True)


class _Collection(_Repo[R]):
    """Playlists and cards: owner listings and "which of these use this audio item"."""

    def get(self, record_id: str) -> R:
        return self._get(record_id)

    def add(self, record: R) -> None:
        self._insert(record)

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[R]:
        return self._page(_owned(owner), limit=limit, cursor=cursor)

    def delete(self, record_id: str) -> None:
        self._delete(record_id)

    def using_audio(self, audio_id: str) -> builtins.list[str]:
        with self._db.lock:
            return sorted(key for key, row in self._rows.items() if audio_id in row["audio_ids"])


class MemoryPlaylists(_Collection[Playlist]):
    name, label = "playlists", "playlist"

    def save(self, playlist: Playlist, *, expected_version: int) -> Playlist:
        with self._db.lock:
            stored = self._get(playlist.id)
            if stored.version != expected_version:
                raise VersionConflict(
                    f"playlist {playlist.id!r} is at version {stored.version}, not the expected {expected_version}"
                )
            return self._change(
                playlist.id,
                **saved_fields(playlist),
                version=expected_version + 1,
                updated_at=self._clock(),
            )

    def give(self, playlist_id: str, owner: str, *, expected_version: int) -> Playlist:
        return self._give(playlist_id, owner, expected_version)


class MemoryCards(_Collection[Card]):
    name, label = "cards", "card"

    def update(self, card: Card) -> Card:
        """Every field but the identity and creation (id, owner, created_at) is replaced."""
        kept = ("id", "owner", "created_at", "updated_at")
        changes = {n: getattr(card, n) for n in self._codec.names if n not in kept}
        return self._change(card.id, **changes, updated_at=self._clock())


# --------------------------------------------------------------------------- scheduled work


class MemoryVersioned(_Repo[R]):
    """Podcasts, routines, jobs and runs: owner listings and compare-and-swap saves."""

    group_field = "owner"  # what `list(owner=...)` narrows on

    def __init__(self, db: MemoryDatabase, clock: Clock, codec: RecordCodec[R], name: str, label: str) -> None:
        super().__init__(db, clock, codec)
        self.name, self.label = name, label

    def add(self, record: R) -> None:
        self._insert(record)

    def get(self, record_id: str) -> R:
        return self._get(record_id)

    def save(self, record: R, *, expected_version: int) -> R:
        kept = ("id", "owner", "created_at", "updated_at", "version")
        changes = {n: getattr(record, n) for n in self._codec.names if n not in kept}
        with self._db.lock:
            stored = self._row(record.id)  # type: ignore[attr-defined]
            if stored["version"] != expected_version:
                raise VersionConflict(
                    f"{self.label} {stored['id']!r} is at version {stored['version']}, "
                    f"not the expected {expected_version}"
                )
            return self._change(stored["id"], **changes, version=expected_version + 1, updated_at=self._clock())

    def delete(self, record_id: str) -> None:
        self._delete(record_id)

    def give(self, record_id: str, owner: str, *, expected_version: int) -> R:
        return self._give(record_id, owner, expected_version)

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[R]:
        field = self.group_field
        return self._page(lambda row: owner is None or row[field] == owner, limit=limit, cursor=cursor)


class MemoryRuns(MemoryVersioned[Run]):
    def recent(self, subject_id: str, *, limit: int = 20) -> builtins.list[Run]:
        check_limit(limit)
        with self._db.lock:
            rows = [r for r in self._rows.values() if r["subject_id"] == subject_id]
        rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        return [self._codec.load(r) for r in rows[:limit]]


# --------------------------------------------------------------------------- service state


class MemoryTokens(_Repo[YotoTokens]):
    name, label, key_field = "tokens", "Yoto tokens of account", "account"

    def get(self, account: str) -> YotoTokens:
        return self._get(account)

    def create(self, tokens: YotoTokens) -> None:
        self._insert(tokens)

    def compare_and_swap(self, tokens: YotoTokens, *, expected_version: int) -> YotoTokens:
        new = replace(tokens, version=expected_version + 1, updated_at=self._clock())
        row = self._codec.dump(new)
        with self._db.lock:
            stored = self._row(tokens.account)
            if stored["version"] != expected_version:
                raise VersionConflict(
                    f"tokens of account {tokens.account!r} are no longer at version {expected_version}"
                )
            self._rows[tokens.account] = row
        return self._codec.load(row)

    def delete(self, account: str) -> None:
        self._delete(account)

    def list_accounts(self) -> list[str]:
        with self._db.lock:
            return sorted(self._rows)


class MemoryPlayers:
    def __init__(self, db: MemoryDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._states = PLAYER_STATES
        self._events = PLAYER_EVENTS

    def merge_state(self, player_id: str, changes: dict[str, Any]) -> PlayerState:
        if not isinstance(changes, dict):
            raise TypeError(f"player state changes must be a dict, got {type(changes).__name__}")
        dump_json(changes)
        states = self._db.table("player_states")
        with self._db.lock:
            current = states.get(player_id)
            merged = {**(json.loads(current["state"]) if current else {}), **changes}
            row = self._states.dump(PlayerState(player_id=player_id, state=merged, updated_at=self._clock()))
            states[player_id] = row
            return self._states.load(row)

    def get_state(self, player_id: str) -> PlayerState:
        with self._db.lock:
            row = self._db.table("player_states").get(player_id)
        if row is None:
            raise NotFound(f"no state for player {player_id!r}")
        return self._states.load(row)

    def list_states(self) -> list[PlayerState]:
        with self._db.lock:
            rows = sorted(self._db.table("player_states").values(), key=lambda r: r["player_id"])
        return [self._states.load(r) for r in rows]

    def add_event(self, event: PlayerEvent, *, keep_s: int = 7 * 24 * 3600) -> None:
        """The event expires `keep_s` seconds after it is stored."""
        self.add_events([event], keep_s=keep_s)

    def add_events(self, events: list[PlayerEvent], *, keep_s: int = 7 * 24 * 3600) -> None:
        expires = to_us(self._clock() + timedelta(seconds=keep_s))
        rows = [self._events.dump(event) for event in events]  # every one converts before any is stored
        with self._db.lock:
            for row in rows:
                seq = self._db.next_seq()
                self._db.table("player_events")[seq] = {**row, "seq": seq, "expires_at": expires}

    def recent_events(self, player_id: str, *, limit: int = 50) -> list[PlayerEvent]:
        check_limit(limit)
        now = to_us(self._clock())
        with self._db.lock:
            rows = [
                r
                for r in self._db.table("player_events").values()
                if r["player_id"] == player_id and r["expires_at"] > now
            ]
        rows.sort(key=lambda r: (r["at"], r["seq"]), reverse=True)
        return [self._events.load(r) for r in rows[:limit]]

    def events_since(
        self, player_id: str, since: datetime, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[PlayerEvent]:
        check_limit(limit)
        now = to_us(self._clock())
        if cursor is not None:
            at_us, seq = decode_cursor(cursor)
            after = (at_us, int(seq))
        else:
            after = (to_us(since), -1)
        with self._db.lock:
            rows = [
                r
                for r in self._db.table("player_events").values()
                if r["player_id"] == player_id and r["expires_at"] > now and (r["at"], r["seq"]) > after
            ]
        rows.sort(key=lambda r: (r["at"], r["seq"]))
        more, rows = len(rows) > limit, rows[:limit]
        next_cursor = encode_cursor(rows[-1]["at"], str(rows[-1]["seq"])) if more else None
        return Page([self._events.load(r) for r in rows], next_cursor)


class MemorySettings:
    """Values are kept as JSON text, so they come back as a copy and a non-JSON value is refused."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def get(self, key: str) -> Any:
        with self._db.lock:
            text = self._db.table("settings").get(key)
        if text is None:
            raise NotFound(f"no setting {key!r}")
        return json.loads(text)

    def put(self, key: str, value: Any) -> None:
        text = dump_json(value)
        with self._db.lock:
            self._db.table("settings")[key] = text  # type: ignore[assignment]

    def delete(self, key: str) -> None:
        with self._db.lock:
            self._db.table("settings").pop(key, None)

    def list_keys(self) -> list[str]:
        with self._db.lock:
            return sorted(self._db.table("settings"))


class MemorySessions(_Repo[Session]):
    name, label = "sessions", "session"

    def add(self, session: Session) -> None:
        self._insert(session)

    def get(self, session_id: str) -> Session:
        with self._db.lock:
            row = self._rows.get(session_id)
            if row is None or row["expires_at"] <= self._now_us():
                raise NotFound("no such session, or it has expired")
            return self._codec.load(row)

    def delete(self, session_id: str) -> None:
        self._delete(session_id, missing_ok=True)

    def delete_for_user(self, username: str) -> int:
        """Removes every session of the user; counts the live ones."""
        now = self._now_us()
        with self._db.lock:
            theirs = [k for k, r in self._rows.items() if r["username"] == username]
            removed = [self._rows.pop(k) for k in theirs]
        return sum(1 for r in removed if r["expires_at"] > now)


class MemoryCounters:
    """Fixed windows: the first add starts one that ends `ttl_s` later; an add after that starts afresh."""

    def __init__(self, db: MemoryDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def add(self, key: str, amount: int, *, ttl_s: int) -> int:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        now = to_us(self._clock())
        counters = self._db.table("counters")
        with self._db.lock:
            current = counters.get(key)
            if current is None or current["expires_at"] <= now:
                current = {"total": 0, "expires_at": now + int(ttl_s * 1_000_000)}
            current = {**current, "total": current["total"] + amount}
            counters[key] = current
            return int(current["total"])

    def get(self, key: str) -> int:
        with self._db.lock:
            current = self._db.table("counters").get(key)
        if current is None or current["expires_at"] <= to_us(self._clock()):
            return 0
        return int(current["total"])

    def reset(self, key: str) -> None:
        with self._db.lock:
            self._db.table("counters").pop(key, None)


class MemoryFallbacks(_Repo[PasswordFallback]):
    name, label, key_field = "fallbacks", "migration record of", "username"

    def put(self, fallback: PasswordFallback) -> None:
        row = self._codec.dump(fallback)
        with self._db.lock:
            self._rows[fallback.username] = row

    def get(self, username: str) -> PasswordFallback:
        with self._db.lock:
            row = self._rows.get(username)
            if row is None or row["expires_at"] <= self._now_us():
                raise NotFound(f"no migration record for {username!r}, or it has expired")
            return self._codec.load(row)

    def delete(self, username: str) -> bool:
        row = self._delete(username, missing_ok=True)
        return row is not None and row["expires_at"] > self._now_us()


class MemoryRecords:
    """All repositories over one `MemoryDatabase` (a new, empty one unless given).

    `clock` is what "now" means for expiry and `updated_at`; pass a function
    returning a settable time to test windows without sleeping."""

    def __init__(self, db: MemoryDatabase | None = None, *, clock: Clock = utcnow) -> None:
        self.db = db if db is not None else MemoryDatabase()
        self.clock = clock
        self.audio = MemoryAudio(self.db, clock, AUDIO)
        self.uploads = MemoryUploads(self.db, clock, UPLOADS)
        self.playlists = MemoryPlaylists(self.db, clock, PLAYLISTS)
        self.cards = MemoryCards(self.db, clock, CARDS)
        self.tokens = MemoryTokens(self.db, clock, TOKENS)
        self.players = MemoryPlayers(self.db, clock)
        self.settings = MemorySettings(self.db)
        self.sessions = MemorySessions(self.db, clock, SESSIONS)
        self.counters = MemoryCounters(self.db, clock)
        self.podcasts = MemoryVersioned(self.db, clock, PODCASTS, "podcasts", "podcast")
        self.routines = MemoryVersioned(self.db, clock, ROUTINES, "routines", "routine")
        self.stories = MemoryVersioned(self.db, clock, STORIES, "stories", "story")
        self.jobs = MemoryVersioned(self.db, clock, JOBS, "jobs", "scheduled job")
        self.runs = MemoryRuns(self.db, clock, RUNS, "runs", "run")
        self.fallbacks = MemoryFallbacks(self.db, clock, FALLBACKS)

    def purge_expired(self) -> int:
        """Drop expired uploads, sessions, counters, events and migration records (reads never need it);
        returns how many."""
        now = to_us(self.clock())
        removed = 0
        with self.db.lock:
            for name in ("uploads", "sessions", "counters", "player_events", "fallbacks"):
                rows = self.db.table(name)
                gone = [k for k, r in rows.items() if r["expires_at"] <= now]
                for k in gone:
                    del rows[k]
                removed += len(gone)
        return removed
