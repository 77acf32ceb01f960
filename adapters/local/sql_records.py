"""The local `Records`: every repository over one SQLite file, `DATA_DIR/yoto.db`.

The tables live in `sql_tables`, the engine and its transaction rules in
`sql_engine`, the repositories in `sql_library` (audio, uploads, playlists,
cards) and `sql_state` (tokens, players, settings, sessions, counters).
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.local import sql_tables as t
from adapters.local.sql_engine import Database, create_sqlite_engine
from adapters.local.sql_library import SqlAudio, SqlCards, SqlPlaylists, SqlUploads
from adapters.local.sql_schedule import SqlRuns, SqlVersioned
from adapters.local.sql_state import SqlCounters, SqlFallbacks, SqlPlayers, SqlSessions, SqlSettings, SqlTokens
from adapters.local.sql_tables import metadata
from core.errors import ConfigError
from core.ports import (
    AudioRepository,
    CardRepository,
    CounterRepository,
    JobRepository,
    PasswordFallbackRepository,
    PlayerRepository,
    PlaylistRepository,
    PodcastRepository,
    RoutineRepository,
    RunRepository,
    SessionRepository,
    SettingsRepository,
    StoryRepository,
    TokenRepository,
    UploadRepository,
)
from core.settings import Settings

DB_FILENAME = "yoto.db"


class SqlRecords:
    """All repositories over one SQLite database; one instance serves every thread.

    `engine` is public so the local identity adapter can keep its `users`
    table in the same file.
    """

    engine: sa.Engine

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        """`read_only`: open an existing database without changing anything in it
        (no schema upgrade, no purge; every write fails), as the migration reads its source."""
        self.path = settings.data_dir / DB_FILENAME
        if read_only and not self.path.is_file():
            raise ConfigError(f"there is no local install to read: {self.path} does not exist (check DATA_DIR)")
        self.engine = create_sqlite_engine(self.path, read_only=read_only)
        db = Database(self.engine)
        self._db = db
        if read_only:
            self._check_schema()
        else:
            with db.write() as conn:  # the write lock makes two processes starting at once take turns
                metadata.create_all(conn, checkfirst=True)
                t.add_missing_columns(conn)
            self.purge_expired()
        self.audio: AudioRepository = SqlAudio(db)
        self.uploads: UploadRepository = SqlUploads(db)
        self.playlists: PlaylistRepository = SqlPlaylists(db)
        self.cards: CardRepository = SqlCards(db)
        self.tokens: TokenRepository = SqlTokens(db)
        self.players: PlayerRepository = SqlPlayers(db)
        self.settings: SettingsRepository = SqlSettings(db)
        self.sessions: SessionRepository = SqlSessions(db)
        self.counters: CounterRepository = SqlCounters(db)
        self.podcasts: PodcastRepository = SqlVersioned(db, t.PODCASTS, "podcast")
        self.routines: RoutineRepository = SqlVersioned(db, t.ROUTINES, "routine")
        self.stories: StoryRepository = SqlVersioned(db, t.STORIES, "story")
        self.jobs: JobRepository = SqlVersioned(db, t.JOBS, "scheduled job")
        self.runs: RunRepository = SqlRuns(db, t.RUNS, "run")
        self.fallbacks: PasswordFallbackRepository = SqlFallbacks(db)

    def purge_expired(self) -> int:
        """Delete expired uploads, sessions, counters, player events and migration records; returns how many.

        SQLite has no TTL like DynamoDB's, so expired rows would otherwise stay
        for ever. Reads never depend on this having run (they filter by
        expiry themselves); it only keeps the file small. Runs at start-up and
        whenever the app's housekeeping calls it.
        """
        now = t.now_us()
        removed = 0
        with self._db.write() as conn:
            for table in (t.uploads, t.sessions, t.counters, t.player_events, t.fallbacks):
                removed += conn.execute(sa.delete(table).where(table.c.expires_at <= now)).rowcount
        return removed

    def _check_schema(self) -> None:
        """A read-only database must already have every table and column this code reads."""
        with self._db.read() as conn:
            tables = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in metadata.sorted_tables:
                have = (
                    {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table.name}")')}
                    if table.name in tables
                    else set()
                )
                if not have and table.name == t.fallbacks.name:
                    continue  # made by the migration; an install that never had one has no records in it
                lacking = [c.name for c in table.columns if c.name not in have]
                if lacking:
                    raise ConfigError(
                        f"the database {self.path} is from an older version (no {table.name}."
                        f"{lacking[0]}): start the app on it once (make run) so it is upgraded, then try again"
                    )

    def close(self) -> None:
        """Release pooled connections (tests and CLI tools that open many databases)."""
        self.engine.dispose()
