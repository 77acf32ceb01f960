"""SQLite repositories for service state: Yoto tokens, players, settings, sessions, counters."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from adapters.keyset import check_limit, decode_cursor, encode_cursor
from adapters.local import sql_tables as t
from adapters.local.sql_engine import Database
from adapters.local.sql_library import swap_version
from core.errors import AlreadyExists, NotFound
from core.records import Page, PasswordFallback, PlayerEvent, PlayerState, Session, YotoTokens, utcnow

# --------------------------------------------------------------------------- tokens


class SqlTokens:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, account: str) -> YotoTokens:
        with self._db.read() as conn:
            row = conn.execute(sa.select(t.tokens).where(t.tokens.c.account == account)).first()
        if row is None:
            raise NotFound(f"no Yoto tokens for account {account!r}")
        return t.TOKENS.load(row)

    def create(self, tokens: YotoTokens) -> None:
        row = t.TOKENS.row(tokens)
        try:
            with self._db.write() as conn:
                conn.execute(sa.insert(t.tokens).values(**row))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"account {tokens.account!r} already has tokens") from exc

    def compare_and_swap(self, tokens: YotoTokens, *, expected_version: int) -> YotoTokens:
        """Every field but the account and version is replaced; updated_at is now."""
        changes = {n: getattr(tokens, n) for n in t.TOKENS.codec.names if n not in ("account", "version")}
        values = t.TOKENS.values(**{**changes, "updated_at": utcnow()})
        row = swap_version(self._db, t.tokens.c.account, tokens.account, expected_version, values, "Yoto tokens of")
        return t.TOKENS.load(row)

    def delete(self, account: str) -> None:
        with self._db.write() as conn:
            if conn.execute(sa.delete(t.tokens).where(t.tokens.c.account == account)).rowcount == 0:
                raise NotFound(f"no Yoto tokens for account {account!r}")

    def list_accounts(self) -> list[str]:
        with self._db.read() as conn:
            return list(conn.execute(sa.select(t.tokens.c.account).order_by(t.tokens.c.account)).scalars())


# --------------------------------------------------------------------------- players


class SqlPlayers:
    def __init__(self, db: Database) -> None:
        self._db = db

    def merge_state(self, player_id: str, changes: dict[str, Any]) -> PlayerState:
        """Top-level keys of `changes` replace the stored ones; the rest is kept.
        Read and write happen under one write lock, so concurrent merges all land."""
        if not isinstance(changes, dict):
            raise TypeError(f"player state changes must be a dict, got {type(changes).__name__}")
        t.dump_json(changes)
        table = t.player_states
        with self._db.write() as conn:
            current = conn.execute(sa.select(table.c.state).where(table.c.player_id == player_id)).scalar()
            merged = {**(json.loads(current) if current is not None else {}), **changes}
            record = PlayerState(player_id=player_id, state=merged, updated_at=utcnow())
            row = t.PLAYER_STATES.row(record)
            stmt = sqlite_insert(table).values(**row)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.player_id],
                set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
            )
            conn.execute(stmt)
        return t.PLAYER_STATES.load(row)

    def get_state(self, player_id: str) -> PlayerState:
        with self._db.read() as conn:
            row = conn.execute(sa.select(t.player_states).where(t.player_states.c.player_id == player_id)).first()
        if row is None:
            raise NotFound(f"no state for player {player_id!r}")
        return t.PLAYER_STATES.load(row)

    def list_states(self) -> list[PlayerState]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(t.player_states).order_by(t.player_states.c.player_id)).all()
        return [t.PLAYER_STATES.load(r) for r in rows]

    def add_event(self, event: PlayerEvent, *, keep_s: int = 7 * 24 * 3600) -> None:
        """The event expires `keep_s` seconds after it is stored."""
        self.add_events([event], keep_s=keep_s)

    def add_events(self, events: list[PlayerEvent], *, keep_s: int = 7 * 24 * 3600) -> None:
        """One transaction, one multi-row INSERT: all land or none."""
        if not events:
            return
        expires = t.now_us() + keep_s * 1_000_000
        rows = [t.PLAYER_EVENTS.row(event, expires_at=expires) for event in events]
        with self._db.write() as conn:
            conn.execute(sa.insert(t.player_events), rows)

    def recent_events(self, player_id: str, *, limit: int = 50) -> list[PlayerEvent]:
        check_limit(limit)
        table = t.player_events
        stmt = (
            sa.select(table)
            .where(table.c.player_id == player_id, table.c.expires_at > t.now_us())
            .order_by(table.c.at.desc(), table.c.seq.desc())
            .limit(limit)
        )
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        return [t.PLAYER_EVENTS.load(r) for r in rows]

    def events_since(
        self, player_id: str, since: datetime, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[PlayerEvent]:
        """Keyset paging on (at, seq): the cursor names the last event handed out."""
        check_limit(limit)
        table = t.player_events
        where = [table.c.player_id == player_id, table.c.expires_at > t.now_us()]
        if cursor is not None:
            at_us, seq = decode_cursor(cursor)  # ValueError for a cursor we did not issue
            seq_no = int(seq)
            where.append(sa.or_(table.c.at > at_us, sa.and_(table.c.at == at_us, table.c.seq > seq_no)))
        else:
            where.append(table.c.at >= t.to_us(since))
        stmt = sa.select(table).where(*where).order_by(table.c.at, table.c.seq).limit(limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].at, str(rows[-1].seq)) if more else None
        return Page([t.PLAYER_EVENTS.load(r) for r in rows], next_cursor)


# --------------------------------------------------------------------------- settings


class SqlSettings:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> Any:
        with self._db.read() as conn:
            text = conn.execute(sa.select(t.app_settings.c.value).where(t.app_settings.c.key == key)).scalar()
        if text is None:
            raise NotFound(f"no setting {key!r}")
        return json.loads(text)

    def put(self, key: str, value: Any) -> None:
        stmt = sqlite_insert(t.app_settings).values(key=key, value=t.dump_json(value))
        stmt = stmt.on_conflict_do_update(index_elements=[t.app_settings.c.key], set_={"value": stmt.excluded.value})
        with self._db.write() as conn:
            conn.execute(stmt)

    def delete(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(sa.delete(t.app_settings).where(t.app_settings.c.key == key))

    def list_keys(self) -> list[str]:
        with self._db.read() as conn:
            return list(conn.scalars(sa.select(t.app_settings.c.key).order_by(t.app_settings.c.key)))


# --------------------------------------------------------------------------- sessions


class SqlSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, session: Session) -> None:
        row = t.SESSIONS.row(session)
        try:
            with self._db.write() as conn:
                conn.execute(sa.insert(t.sessions).values(**row))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"session {session.id[:6]}… already exists") from exc

    def get(self, session_id: str) -> Session:
        table = t.sessions
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(table).where(table.c.id == session_id, table.c.expires_at > t.now_us())
            ).first()
        if row is None:
            raise NotFound("no such session, or it has expired")
        return t.SESSIONS.load(row)

    def delete(self, session_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(sa.delete(t.sessions).where(t.sessions.c.id == session_id))

    def delete_for_user(self, username: str) -> int:
        with self._db.write() as conn:
            return conn.execute(sa.delete(t.sessions).where(t.sessions.c.username == username)).rowcount


# --------------------------------------------------------------------------- counters

# One statement, so concurrent adds serialise inside SQLite: a live window grows,
# an expired one (still on disk until someone overwrites it) starts again at `amount`.
_COUNTER_ADD = sa.text(
    """
    INSERT INTO counters (key, total, expires_at) VALUES (:key, :amount, :expires_at)
    ON CONFLICT (key) DO UPDATE SET
        total = CASE WHEN counters.expires_at <= :now THEN excluded.total
                     ELSE counters.total + excluded.total END,
        expires_at = CASE WHEN counters.expires_at <= :now THEN excluded.expires_at
                          ELSE counters.expires_at END
    RETURNING total
    """
)


class SqlCounters:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, key: str, amount: int, *, ttl_s: int) -> int:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        now = t.now_us()
        params = {"key": key, "amount": amount, "expires_at": now + int(ttl_s * 1_000_000), "now": now}
        with self._db.write() as conn:
            return int(conn.execute(_COUNTER_ADD, params).scalar_one())

    def get(self, key: str) -> int:
        table = t.counters
        with self._db.read() as conn:
            total = conn.execute(
                sa.select(table.c.total).where(table.c.key == key, table.c.expires_at > t.now_us())
            ).scalar()
        return int(total or 0)

    def reset(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(sa.delete(t.counters).where(t.counters.c.key == key))


# --------------------------------------------------------------------------- migration records


class SqlFallbacks:
    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, fallback: PasswordFallback) -> None:
        row = t.FALLBACKS.row(fallback)
        stmt = sqlite_insert(t.fallbacks).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.fallbacks.c.username], set_={k: v for k, v in row.items() if k != "username"}
        )
        with self._db.write() as conn:
            conn.execute(stmt)

    def get(self, username: str) -> PasswordFallback:
        table = t.fallbacks
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(table).where(table.c.username == username, table.c.expires_at > t.now_us())
            ).first()
        if row is None:
            raise NotFound(f"no migration record for {username!r}, or it has expired")
        return t.FALLBACKS.load(row)

    def delete(self, username: str) -> bool:
        table = t.fallbacks
        with self._db.write() as conn:
            live = conn.execute(
                sa.delete(table).where(table.c.username == username).returning(table.c.expires_at)
            ).scalar()
        return live is not None and live > t.now_us()
