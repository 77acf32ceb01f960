"""The record codecs (`core.codec`): a record's fields are stored by every
backend without being listed again, and a field added to a record is one line.

No backend service runs here: the SQLite tables are real (a file per test),
the DynamoDB and memory codecs are checked on the items they build.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.aws import dynamo_codecs
from adapters.local import sql_tables as t
from adapters.memory import records as memory
from core.codec import RecordCodec
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

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECORDS = (
    AudioItem,
    PendingUpload,
    Playlist,
    Card,
    YotoTokens,
    PlayerState,
    PlayerEvent,
    Session,
    Podcast,
    Routine,
    Story,
    Job,
    Run,
    PasswordFallback,
)


@dataclass(frozen=True)
class AudioItemPlus(AudioItem):
    """AudioItem with the fields a later change might add: one line each."""

    colour: str = "blue"
    note: str | None = None
    tags: tuple[str, ...] = ()
    loudness: float = -14.0


def _engine(tmp_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'codec.db'}")


def test_every_record_table_has_a_column_per_field() -> None:
    extras = {"audio": {"title_fold"}, "player_events": {"seq", "expires_at"}}
    for record in t.RECORD_TABLES:
        fields = {f.name for f in dataclasses.fields(record.codec.record_type)}
        columns = {c.name for c in record.table.columns}
        assert columns == fields | extras.get(record.table.name, set()), record.table.name
        for spec in record.codec.fields:
            assert record.table.c[spec.name].nullable == spec.optional, (record.table.name, spec.name)
    assert {r.codec.record_type for r in t.RECORD_TABLES} == set(RECORDS)


def test_every_backend_has_a_codec_for_every_record() -> None:
    for module in (dynamo_codecs, memory):
        codecs = {v.record_type for v in vars(module).values() if isinstance(v, RecordCodec)}
        assert codecs == set(RECORDS), module.__name__


def test_a_new_field_is_stored_by_every_backend(tmp_path: Path) -> None:
    item = AudioItemPlus(
        id="a1",
        owner="anna",
        title="Song",
        storage_key="audio/a1.mp3",
        size_bytes=10,
        duration_s=1.5,
        created_at=T0,
        colour="green",
        tags=("calm", "night"),
        loudness=-16.5,
    )
    table = t.record_table("audio_plus", AudioItemPlus, primary_key="id", into=sa.MetaData())
    engine = _engine(tmp_path)
    table.table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(table.table).values(**table.row(item)))
        assert table.load(conn.execute(sa.select(table.table)).one()) == item

    dynamo = RecordCodec(AudioItemPlus, dynamo_codecs.CONVERSIONS)
    stored = dynamo.dump(item)
    assert (stored["colour"], stored["tags"], stored["note"]) == ("green", ["calm", "night"], None)
    assert dynamo.load(stored) == item

    fake = RecordCodec(AudioItemPlus, memory.CONVERSIONS)
    assert fake.load(fake.dump(item)) == item


def test_rows_written_before_a_field_existed_load_with_its_default() -> None:
    old = dynamo_codecs.AUDIO.dump(
        AudioItem(id="a", owner="o", title="t", storage_key="k", size_bytes=1, duration_s=1.0, created_at=T0)
    )
    loaded = RecordCodec(AudioItemPlus, dynamo_codecs.CONVERSIONS).load(old)
    assert (loaded.colour, loaded.note, loaded.tags, loaded.loudness) == ("blue", None, (), -14.0)
    with pytest.raises(KeyError, match="title"):
        dynamo_codecs.AUDIO.load({k: v for k, v in old.items() if k != "title"})


def test_an_existing_database_file_gets_the_new_columns(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    v1 = t.record_table("library", AudioItem, primary_key="id", into=sa.MetaData())
    v1.table.metadata.create_all(engine)
    old = AudioItem(id="a", owner="o", title="t", storage_key="k", size_bytes=1, duration_s=1.0, created_at=T0)
    with engine.begin() as conn:
        conn.execute(sa.insert(v1.table).values(**v1.row(old)))

    v2 = t.record_table("library", AudioItemPlus, primary_key="id", into=sa.MetaData())
    with engine.begin() as conn:
        added = t.add_missing_columns(conn, (v2,))
        assert sorted(added) == ["library.colour", "library.loudness", "library.note", "library.tags"]
        loaded = v2.load(conn.execute(sa.select(v2.table)).one())
        assert loaded == AudioItemPlus(**dataclasses.asdict(old) | {"created_at": T0})
        assert t.add_missing_columns(conn, (v2,)) == []


def test_a_new_field_with_a_per_record_default_needs_a_migration(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class WithSecret(AudioItem):
        secret: str = field(default_factory=lambda: "made-per-record")

    engine = _engine(tmp_path)
    t.record_table("secrets", AudioItem, primary_key="id", into=sa.MetaData()).table.metadata.create_all(engine)
    v2 = t.record_table("secrets", WithSecret, primary_key="id", into=sa.MetaData())
    with engine.begin() as conn, pytest.raises(ConfigError, match=r"secrets\.secret"):
        t.add_missing_columns(conn, (v2,))


def test_a_field_of_a_kind_no_backend_knows_fails_when_the_codec_is_built() -> None:
    @dataclass(frozen=True)
    class Odd:
        id: str
        members: set[str]

    for conversions in (t.CONVERSIONS, dynamo_codecs.CONVERSIONS, memory.CONVERSIONS):
        with pytest.raises(TypeError, match="set"):
            RecordCodec(Odd, conversions)


def test_none_only_where_the_field_admits_it() -> None:
    upload = PendingUpload(id="u", owner="o", storage_key="k", title=None, filename=None, max_bytes=5)
    for codec in (t.UPLOADS.codec, dynamo_codecs.UPLOADS, memory.UPLOADS):
        assert codec.load(codec.dump(upload)) == upload
        with pytest.raises(ValueError, match="owner"):
            codec.dump(dataclasses.replace(upload, owner=None))  # type: ignore[arg-type]


def test_playlists_and_cards_of_an_older_database_file_load_with_the_new_fields(tmp_path: Path) -> None:
    """A data dir made before play modes, playlist cards and card tracks existed opens as it is."""
    from adapters.local.sql_records import DB_FILENAME, SqlRecords
    from core.settings import Settings

    @dataclass(frozen=True)
    class OldPlaylist:
        id: str
        owner: str
        name: str
        audio_ids: tuple[str, ...] = ()
        version: int = 1
        created_at: datetime = T0
        updated_at: datetime = T0

    @dataclass(frozen=True)
    class OldCard:
        id: str
        owner: str
        title: str
        yoto_card_id: str | None = None
        playlist_id: str | None = None
        audio_ids: tuple[str, ...] = ()
        created_at: datetime = T0
        updated_at: datetime = T0

    data = tmp_path / "data"
    data.mkdir()
    engine = sa.create_engine(f"sqlite:///{data / DB_FILENAME}")
    old_tables = sa.MetaData()
    pl = t.record_table("playlists", OldPlaylist, primary_key="id", into=old_tables)
    cd = t.record_table("cards", OldCard, primary_key="id", into=old_tables)
    old_tables.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(pl.table).values(**pl.row(OldPlaylist("p1", "anna", "Car", ("a", "b")))))
        conn.execute(sa.insert(cd.table).values(**cd.row(OldCard("c1", "anna", "Bed", "ab12C", None, ("a",)))))
    engine.dispose()

    records = SqlRecords(Settings(data_dir=data))
    try:
        playlist = records.playlists.get("p1")
        assert (playlist.audio_ids, playlist.play_mode, playlist.card_id) == (("a", "b"), "sequential", None)
        card = records.cards.get("c1")
        assert (card.yoto_card_id, card.audio_ids, card.track_titles, card.synced_version) == ("ab12C", ("a",), (), 0)
        assert card.synced_at is None and card.description is None
    finally:
        records.close()
