"""The records contract: every repository of `Records`, run on SQLite ([local]),
DynamoDB on moto ([aws]) and the in-memory fake ([memory]).

Every implementation must pass the same tests, so the app can switch with
`USE_AWS` and see the same behaviour, and service tests on the fake prove
what they would prove on the real sides. Where `core/ports.py` leaves a
detail open, the choice made here is the contract:

- `get`/`update`/`save`/`compare_and_swap`/`delete` of a missing audio item,
  playlist or card (and CAS of a missing account) raise `NotFound`; only
  uploads and sessions delete idempotently, as their docstrings say;
- a malformed paging cursor raises `ValueError`;
- a value `settings.put` cannot store as JSON raises `TypeError`/`ValueError`
  and stores nothing;
- expiry (uploads, sessions, counters, events) is checked at sub-second
  precision: a counter with `ttl_s=2` is still there after 1 s and gone after
  2.3 s, whatever second its window started in.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

from adapters import Adapters
from adapters.aws.clients import client
from adapters.aws.schema import TTL_ATTRIBUTE, create_table_kwargs
from adapters.memory import MemoryDatabase, MemoryRecords
from core.errors import AlreadyExists, NotFound, VersionConflict
from core.ports import Records
from core.records import (
    AudioItem,
    Card,
    Page,
    PasswordFallback,
    PendingUpload,
    PlayerEvent,
    Playlist,
    Session,
    StreamRef,
    YotoTokens,
    new_id,
    utcnow,
)
from core.settings import Settings
from tests.conftest import AWS_ENV, TEST_SECRET
from tests.servers import moto_reset

T = TypeVar("T")
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.fixture
def aws_settings(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """This module's `aws` side: a freshly reset moto server with only the DynamoDB
    table (key schema and TTL as the Pulumi program declares them). The records
    port touches nothing else, and the shared fixture's Cognito pool costs most
    of a second per test under moto; the bucket and pool names below exist only
    to satisfy start-up validation and are never called."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    moto_reset(moto_endpoint)
    base = Settings(use_aws=True, aws_region=AWS_ENV["AWS_REGION"], data_dir=tmp_path)
    table = "yss-records"
    ddb = client(base, "dynamodb")
    ddb.create_table(**create_table_kwargs(table))
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    return base.model_copy(
        update={
            "dynamodb_table": table,
            "s3_audio_bucket": "unused-by-records",
            "cognito_user_pool_id": "unused-by-records",
            "cognito_client_id": "unused-by-records",
            "session_secret": TEST_SECRET,
        }
    )


@pytest.fixture(params=["local", "aws", "memory"])
def reopen(request: pytest.FixtureRequest) -> Callable[[], Records]:
    """Opens a `Records` over this test's database; each call a new instance over the same data."""
    if request.param == "memory":
        db = MemoryDatabase()
        return lambda: MemoryRecords(db)
    settings = request.getfixturevalue(f"{request.param}_settings")
    return lambda: Adapters(settings).records


@pytest.fixture
def records(reopen: Callable[[], Records]) -> Records:
    return reopen()


# --------------------------------------------------------------------------- helpers


def make_audio(*, owner: str = "anna", title: str = "A story", created_at: datetime = T0, **kw: Any) -> AudioItem:
    item_id = kw.pop("id", None) or new_id()
    return AudioItem(
        id=item_id,
        owner=owner,
        title=title,
        storage_key=f"audio/{item_id}.mp3",
        size_bytes=kw.pop("size_bytes", 123_456),
        duration_s=61.25,
        created_at=created_at,
        **kw,
    )


def make_playlist(*, owner: str = "anna", audio_ids: tuple[str, ...] = (), created_at: datetime = T0) -> Playlist:
    return Playlist(
        id=new_id(), owner=owner, name="Car trip", audio_ids=audio_ids, created_at=created_at, updated_at=created_at
    )


def make_card(*, owner: str = "anna", audio_ids: tuple[str, ...] = (), created_at: datetime = T0) -> Card:
    return Card(
        id=new_id(),
        owner=owner,
        title="Bedtime card",
        yoto_card_id=None,
        playlist_id=None,
        audio_ids=audio_ids,
        created_at=created_at,
        updated_at=created_at,
    )


def make_tokens(account: str = "family") -> YotoTokens:
    return YotoTokens(
        account=account,
        access_token="access-0",
        refresh_token="refresh-0",
        expires_at=T0 + timedelta(hours=1),
        updated_at=T0,
    )


def walk(fetch: Callable[[str | None], Page[T]], *, limit: int, max_pages: int = 100) -> list[list[T]]:
    """Every page of a listing, following `next_cursor` until it is None."""
    pages: list[list[T]] = []
    cursor: str | None = None
    for _ in range(max_pages):
        page = fetch(cursor)
        assert len(page.items) <= limit
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        assert isinstance(page.next_cursor, str) and page.next_cursor
        cursor = page.next_cursor
    raise AssertionError(f"listing did not end within {max_pages} pages")


def flat(pages: list[list[T]]) -> list[T]:
    return [item for page in pages for item in page]


def race(n: int, fn: Callable[[int], T]) -> list[T | Exception]:
    """Run `fn(0..n-1)` in n threads released together; return results or raised exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T | Exception:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def assert_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------- audio


def test_audio_round_trips_every_field(records: Records) -> None:
    item = make_audio(title="Gruffalo – read by Grandma", source="tts", created_at=T0.astimezone(PLUS_TWO))
    records.audio.add(item)
    got = records.audio.get(item.id)
    assert got == item
    assert got.stream_key == item.stream_key and got.source == "tts" and got.duration_s == 61.25
    assert_utc(got.created_at)


def test_audio_duplicate_id_raises_already_exists_and_keeps_the_original(records: Records) -> None:
    item = make_audio(title="First")
    records.audio.add(item)
    with pytest.raises(AlreadyExists):
        records.audio.add(replace(item, title="Second"))
    assert records.audio.get(item.id).title == "First"


def test_audio_missing_item_raises_not_found(records: Records) -> None:
    with pytest.raises(NotFound):
        records.audio.get("no-such-item")
    with pytest.raises(NotFound):
        records.audio.update("no-such-item", title="x")
    with pytest.raises(NotFound):
        records.audio.delete("no-such-item")


def test_audio_update_changes_title_and_rotates_stream_key(records: Records) -> None:
    item = make_audio(title="Old title")
    records.audio.add(item)

    renamed = records.audio.update(item.id, title="New title")
    assert renamed == replace(item, title="New title")
    assert records.audio.get(item.id) == renamed

    rotated = records.audio.update(item.id, stream_key="fresh-key")
    assert rotated == replace(item, title="New title", stream_key="fresh-key")
    assert records.audio.get(item.id).stream_key == "fresh-key"

    assert records.audio.update(item.id) == rotated
    assert [i.id for i in records.audio.list(query="NEW").items] == [item.id]  # search follows the rename
    assert records.audio.list(query="old").items == []


def test_audio_stream_ref_is_the_stored_keys_and_follows_a_rotation_at_once(
    records: Records, reopen: Callable[[], Records]
) -> None:
    item = make_audio()
    records.audio.add(item)
    ref = records.audio.stream_ref(item.id)
    assert ref == StreamRef(stream_key=item.stream_key, storage_key=item.storage_key)
    other = reopen()  # another process over the same database rotates the key
    other.audio.update(item.id, stream_key="rotated-key")
    assert records.audio.stream_ref(item.id) == StreamRef(stream_key="rotated-key", storage_key=item.storage_key)
    other.audio.delete(item.id)
    with pytest.raises(NotFound):
        records.audio.stream_ref(item.id)
    with pytest.raises(NotFound):
        records.audio.stream_ref("no-such-item")


def test_audio_says_whether_its_reads_stay_on_this_machine(records: Records, request: pytest.FixtureRequest) -> None:
    """The player stream reads inline on its event loop only where this is True."""
    side = request.node.callspec.params["reopen"]
    assert records.audio.reads_locally is (side != "aws")


def test_audio_delete_removes_the_item_from_get_and_list(records: Records) -> None:
    keep, gone = make_audio(), make_audio()
    records.audio.add(keep)
    records.audio.add(gone)
    records.audio.delete(gone.id)
    with pytest.raises(NotFound):
        records.audio.get(gone.id)
    assert [i.id for i in records.audio.list().items] == [keep.id]


def test_naive_datetime_is_refused_and_nothing_is_stored(records: Records) -> None:
    item = make_audio(created_at=datetime(2026, 3, 1, 12, 0))  # no tzinfo
    with pytest.raises(ValueError):
        records.audio.add(item)
    with pytest.raises(NotFound):
        records.audio.get(item.id)


def test_a_second_instance_sees_the_same_records(records: Records, reopen: Callable[[], Records]) -> None:
    item = make_audio(title="Persisted")
    records.audio.add(item)
    records.settings.put("k", {"v": 1})
    again = reopen()
    assert again is not records
    assert again.audio.get(item.id) == item
    assert again.settings.get("k") == {"v": 1}


def test_audio_list_is_newest_first_in_pages_without_gaps(records: Records) -> None:
    items = [make_audio(title=f"Track {i}", created_at=T0 + timedelta(seconds=i)) for i in range(120)]
    for item in random.Random(7).sample(items, len(items)):
        records.audio.add(item)

    pages = walk(lambda c: records.audio.list(limit=50, cursor=c), limit=50)

    assert [len(p) for p in pages] == [50, 50, 20]
    assert [i.id for i in flat(pages)] == [i.id for i in reversed(items)]
    assert flat(pages)[0] == items[-1]


def test_audio_cursor_is_stable_under_inserts_and_ties(records: Records) -> None:
    # groups of three share a created_at, so page boundaries fall inside ties
    items = [make_audio(created_at=T0 + timedelta(seconds=i // 3)) for i in range(30)]
    for item in items:
        records.audio.add(item)

    first = records.audio.list(limit=4)
    assert first.next_cursor is not None
    newer = make_audio(title="newer", created_at=T0 + timedelta(days=1))
    older = make_audio(title="older", created_at=T0 - timedelta(days=1))
    records.audio.add(newer)
    records.audio.add(older)

    rest = flat(walk(lambda c: records.audio.list(limit=4, cursor=c or first.next_cursor), limit=4))
    seen = first.items + rest
    ids = [i.id for i in seen]
    assert len(ids) == len(set(ids)) == 31
    assert set(ids) == {i.id for i in items} | {older.id}
    assert ids[-1] == older.id
    stamps = [i.created_at for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_audio_list_filters_by_owner(records: Records) -> None:
    items = [make_audio(owner="ben" if i % 3 == 0 else "anna", created_at=T0 + timedelta(seconds=i)) for i in range(36)]
    for item in items:
        records.audio.add(item)

    bens = flat(walk(lambda c: records.audio.list(owner="ben", limit=5, cursor=c), limit=5))
    assert [i.id for i in bens] == [i.id for i in reversed(items) if i.owner == "ben"]
    annas = flat(walk(lambda c: records.audio.list(owner="anna", limit=50, cursor=c), limit=50))
    assert len(annas) == 24 and {i.owner for i in annas} == {"anna"}
    assert records.audio.list(owner="nobody") == Page(items=[], next_cursor=None)


def test_audio_query_is_case_insensitive_and_pages(records: Records) -> None:
    titles = ["Bedtime STORY {}", "story of the day {}", "Song {}", "Éléphant {}"]
    items = [
        make_audio(
            owner="anna" if i % 2 else "ben",
            title=titles[i % 4].format(i),
            created_at=T0 + timedelta(seconds=i),
        )
        for i in range(60)
    ]
    for item in items:
        records.audio.add(item)

    stories = flat(walk(lambda c: records.audio.list(query="sToRy", limit=7, cursor=c), limit=7))
    assert [i.id for i in stories] == [i.id for i in reversed(items) if "story" in i.title.lower()]
    assert len(stories) == 30

    elephants = flat(walk(lambda c: records.audio.list(query="éLÉ", limit=4, cursor=c), limit=4))
    assert len(elephants) == 15 and all(i.title.startswith("Éléphant") for i in elephants)

    anna_stories = flat(walk(lambda c: records.audio.list(owner="anna", query="STORY", limit=3, cursor=c), limit=3))
    assert [i.id for i in anna_stories] == [
        i.id for i in reversed(items) if i.owner == "anna" and "story" in i.title.lower()
    ]
    assert records.audio.list(query="no such title").items == []


def test_audio_query_treats_wildcards_literally(records: Records) -> None:
    percent = make_audio(title="100% fun")
    underscore = make_audio(title="snake_case song")
    plain = make_audio(title="Plain title")
    for item in (percent, underscore, plain):
        records.audio.add(item)
    assert [i.id for i in records.audio.list(query="%").items] == [percent.id]
    assert [i.id for i in records.audio.list(query="_").items] == [underscore.id]


def test_audio_list_rejects_a_malformed_cursor(records: Records) -> None:
    records.audio.add(make_audio())
    with pytest.raises(ValueError):
        records.audio.list(cursor="definitely-not-a-cursor")


def test_audio_list_rejects_cursors_that_would_overflow(records: Records) -> None:
    """A cursor holding a huge number or a deeply nested document is refused as
    malformed (ValueError), not left to overflow the database or the parser."""
    import base64
    import json

    records.audio.add(make_audio())

    def cursor(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for bad in (
        cursor(json.dumps([10**30, "x"]).encode()),
        cursor(b"[" * 100_000 + b"]" * 100_000),
        cursor(json.dumps({"PK": {"S": "x"}, "deep": [[[[[[[[[[1]]]]]]]]]]}).encode()),
    ):
        with pytest.raises(ValueError):
            records.audio.list(cursor=bad)


def test_audio_update_gives_the_item_to_another_owner(records: Records) -> None:
    gone = [make_audio(owner="gone", created_at=T0 + timedelta(seconds=i)) for i in range(3)]
    kept = make_audio(owner="mum", created_at=T0 - timedelta(days=1))
    for item in (*gone, kept):
        records.audio.add(item)

    moved = records.audio.update(gone[0].id, owner="mum")
    assert moved == replace(gone[0], owner="mum")
    assert records.audio.get(gone[0].id) == moved
    both = records.audio.update(gone[1].id, owner="mum", stream_key="rotated", title="Renamed")
    assert both == replace(gone[1], owner="mum", stream_key="rotated", title="Renamed")
    records.audio.update(gone[2].id, owner="mum")

    assert records.audio.list(owner="gone") == Page(items=[], next_cursor=None)
    assert [i.id for i in records.audio.list(owner="mum").items] == [gone[2].id, gone[1].id, gone[0].id, kept.id]
    assert [i.id for i in records.audio.list(owner="mum", query="renamed").items] == [gone[1].id]
    assert {i.owner for i in records.audio.list().items} == {"mum"}
    with pytest.raises(NotFound):
        records.audio.update("no-such-item", owner="mum")


def test_audio_usage_counts_a_members_items_and_bytes(records: Records) -> None:
    from core.records import Usage

    assert records.audio.usage("anna") == Usage(items=0, bytes=0)
    annas = [make_audio(owner="anna", size_bytes=size) for size in (1000, 2500, 7 * 1024**3)]
    for item in (*annas, make_audio(owner="ben", size_bytes=999)):
        records.audio.add(item)
    assert records.audio.usage("anna") == Usage(items=3, bytes=1000 + 2500 + 7 * 1024**3)
    assert records.audio.usage("ben") == Usage(items=1, bytes=999)

    records.audio.delete(annas[0].id)
    records.audio.update(annas[1].id, owner="ben")
    assert records.audio.usage("anna") == Usage(items=1, bytes=7 * 1024**3)
    assert records.audio.usage("ben") == Usage(items=2, bytes=999 + 2500)
    assert records.audio.usage("nobody") == Usage(items=0, bytes=0)


# --------------------------------------------------------------------------- uploads


def test_upload_round_trip_and_idempotent_delete(records: Records) -> None:
    now = utcnow()
    upload = PendingUpload(
        id=new_id(),
        owner="anna",
        storage_key="incoming/abc",
        title=None,
        filename="Song.mp3",
        max_bytes=200 * 1024 * 1024,
        created_at=now,
        expires_at=now + timedelta(minutes=15),
    )
    records.uploads.add(upload)
    got = records.uploads.get(upload.id)
    assert got == upload
    assert_utc(got.expires_at)
    with pytest.raises(AlreadyExists):
        records.uploads.add(replace(upload, title="again"))

    records.uploads.delete(upload.id)
    with pytest.raises(NotFound):
        records.uploads.get(upload.id)
    records.uploads.delete(upload.id)  # a second delete is not an error


def test_expired_upload_reads_as_not_found(records: Records) -> None:
    now = utcnow()
    stale = PendingUpload(
        id=new_id(),
        owner="anna",
        storage_key="incoming/old",
        title="Old",
        filename=None,
        max_bytes=10,
        created_at=now - timedelta(hours=1),
        expires_at=now - timedelta(seconds=1),
    )
    records.uploads.add(stale)
    with pytest.raises(NotFound):
        records.uploads.get(stale.id)
    with pytest.raises(NotFound):
        records.uploads.get("never-existed")


# --------------------------------------------------------------------------- playlists


def test_playlist_round_trip_keeps_order_as_a_tuple(records: Records) -> None:
    playlist = make_playlist(audio_ids=("c", "a", "b", "a"))
    records.playlists.add(playlist)
    got = records.playlists.get(playlist.id)
    assert got == playlist
    assert got.audio_ids == ("c", "a", "b", "a") and isinstance(got.audio_ids, tuple)
    assert got.version == 1
    with pytest.raises(AlreadyExists):
        records.playlists.add(replace(playlist, name="dup"))


def test_playlist_missing_raises_not_found(records: Records) -> None:
    ghost = make_playlist()
    with pytest.raises(NotFound):
        records.playlists.get(ghost.id)
    with pytest.raises(NotFound):
        records.playlists.save(ghost, expected_version=1)
    with pytest.raises(NotFound):
        records.playlists.delete(ghost.id)


def test_playlist_save_replaces_content_and_bumps_version(records: Records) -> None:
    playlist = make_playlist(audio_ids=("a",))
    records.playlists.add(playlist)

    edited = replace(playlist, name="Renamed", audio_ids=("b", "a"), owner="mallory", created_at=T0 + timedelta(days=9))
    saved = records.playlists.save(edited, expected_version=1)
    assert (saved.name, saved.audio_ids, saved.version) == ("Renamed", ("b", "a"), 2)
    assert (saved.owner, saved.created_at) == ("anna", T0)
    assert saved.updated_at > playlist.updated_at
    assert_utc(saved.updated_at)
    assert records.playlists.get(playlist.id) == saved

    with pytest.raises(VersionConflict):
        records.playlists.save(replace(saved, name="Stale"), expected_version=1)
    assert records.playlists.get(playlist.id) == saved

    records.playlists.delete(playlist.id)
    with pytest.raises(NotFound):
        records.playlists.get(playlist.id)


def test_playlist_save_keeps_play_mode_and_card_and_never_identity(records: Records) -> None:
    playlist = make_playlist(audio_ids=("a",))
    assert (playlist.play_mode, playlist.card_id) == ("sequential", None)
    records.playlists.add(replace(playlist, play_mode="loop"))
    assert records.playlists.get(playlist.id).play_mode == "loop"
    edited = replace(playlist, play_mode="shuffle", card_id="card-7", owner="mallory", version=40)
    saved = records.playlists.save(edited, expected_version=1)
    assert (saved.play_mode, saved.card_id, saved.owner, saved.version) == ("shuffle", "card-7", "anna", 2)
    assert records.playlists.get(playlist.id) == saved
    cleared = records.playlists.save(replace(saved, card_id=None), expected_version=2)
    assert cleared.card_id is None and records.playlists.get(playlist.id).card_id is None


def test_playlist_save_lets_exactly_one_racer_win(records: Records) -> None:
    playlist = make_playlist()
    records.playlists.add(playlist)
    rounds, racers = 3, 25
    for r in range(rounds):
        current = records.playlists.get(playlist.id)

        def attempt(i: int, current: Playlist = current, r: int = r) -> Playlist:
            return records.playlists.save(
                replace(current, name=f"round {r} racer {i}", audio_ids=(f"{r}-{i}",)),
                expected_version=current.version,
            )

        results = race(racers, attempt)
        winners = [x for x in results if isinstance(x, Playlist)]
        assert len(winners) == 1, results
        assert all(isinstance(x, VersionConflict) for x in results if not isinstance(x, Playlist)), results
        stored = records.playlists.get(playlist.id)
        assert stored == winners[0]
        assert stored.version == current.version + 1
    assert records.playlists.get(playlist.id).version == rounds + 1


def test_playlist_give_moves_it_to_another_owner_by_compare_and_swap(records: Records) -> None:
    playlist = make_playlist(audio_ids=("a", "b"))
    records.playlists.add(playlist)
    given = records.playlists.give(playlist.id, "ben~2", expected_version=1)
    assert (given.owner, given.version, given.audio_ids, given.created_at) == ("ben~2", 2, ("a", "b"), T0)
    assert records.playlists.get(playlist.id) == given
    assert [p.id for p in records.playlists.list(owner="ben~2").items] == [playlist.id]
    assert records.playlists.list(owner="anna").items == []
    assert records.playlists.using_audio("a") == [playlist.id]
    with pytest.raises(VersionConflict):
        records.playlists.give(playlist.id, "carl", expected_version=1)
    assert records.playlists.get(playlist.id).owner == "ben~2"
    with pytest.raises(NotFound):
        records.playlists.give("nope", "carl", expected_version=1)


def test_playlist_list_newest_first_by_owner(records: Records) -> None:
    lists = [make_playlist(owner="ben" if i % 2 else "anna", created_at=T0 + timedelta(minutes=i)) for i in range(9)]
    for p in lists:
        records.playlists.add(p)
    everything = walk(lambda c: records.playlists.list(limit=4, cursor=c), limit=4)
    assert [len(p) for p in everything] == [4, 4, 1]
    assert flat(everything) == list(reversed(lists))
    bens = flat(walk(lambda c: records.playlists.list(owner="ben", limit=2, cursor=c), limit=2))
    assert bens == [p for p in reversed(lists) if p.owner == "ben"]


def test_playlists_using_audio_match_whole_ids_and_follow_saves(records: Records) -> None:
    both = make_playlist(audio_ids=("abc", "xyz"))
    other = make_playlist(audio_ids=("abcd",))
    also = make_playlist(audio_ids=("q", "abc"))
    for p in (both, other, also):
        records.playlists.add(p)
    assert sorted(records.playlists.using_audio("abc")) == sorted([both.id, also.id])
    assert records.playlists.using_audio("abcd") == [other.id]
    assert records.playlists.using_audio("ab") == []

    records.playlists.save(replace(both, audio_ids=("xyz",)), expected_version=1)
    records.playlists.delete(also.id)
    assert records.playlists.using_audio("abc") == []
    assert records.playlists.using_audio("xyz") == [both.id]


# --------------------------------------------------------------------------- cards


def test_card_round_trip_update_and_delete(records: Records) -> None:
    card = make_card(audio_ids=("a1", "a2"))
    records.cards.add(card)
    assert records.cards.get(card.id) == card
    with pytest.raises(AlreadyExists):
        records.cards.add(replace(card, title="dup"))

    changed = replace(
        card,
        title="Linked card",
        yoto_card_id="yoto-123",
        playlist_id="pl-1",
        audio_ids=("a2",),
        owner="mallory",
        created_at=T0 + timedelta(days=3),
    )
    updated = records.cards.update(changed)
    assert (updated.title, updated.yoto_card_id, updated.playlist_id, updated.audio_ids) == (
        "Linked card",
        "yoto-123",
        "pl-1",
        ("a2",),
    )
    assert (updated.id, updated.owner, updated.created_at) == (card.id, "anna", T0)
    assert updated.updated_at > card.updated_at
    assert_utc(updated.updated_at)
    assert records.cards.get(card.id) == updated

    records.cards.delete(card.id)
    with pytest.raises(NotFound):
        records.cards.get(card.id)


def test_card_keeps_its_tracks_cover_and_sync_state(records: Records) -> None:
    card = replace(
        make_card(audio_ids=("a1", "a2", "a1")),
        description="For the car",
        author="Mum",
        track_titles=("Intro", "", ""),
        track_icons=("", "icon-2", ""),
        chosen_icons=("icon-1", "icon-2", "icon-1"),
    )
    records.cards.add(card)
    assert records.cards.get(card.id) == card
    assert (card.synced_version, card.synced_at, card.cover_url) == (0, None, None)
    synced = replace(card, cover_url="https://cdn.example/c.png", synced_version=5, synced_at=T0 + timedelta(seconds=1))
    updated = records.cards.update(synced)
    assert (updated.cover_url, updated.synced_version) == ("https://cdn.example/c.png", 5)
    assert updated.synced_at == T0 + timedelta(seconds=1)
    assert_utc(updated.synced_at)
    assert records.cards.get(card.id) == updated
    assert updated.track_icons == ("", "icon-2", "") and updated.chosen_icons == ("icon-1", "icon-2", "icon-1")
    back = records.cards.update(replace(updated, synced_at=None, description=None, track_titles=()))
    assert (back.synced_at, back.description, back.track_titles) == (None, None, ())
    assert records.cards.get(card.id) == back


def test_card_missing_raises_not_found(records: Records) -> None:
    ghost = make_card()
    with pytest.raises(NotFound):
        records.cards.get(ghost.id)
    with pytest.raises(NotFound):
        records.cards.update(ghost)
    with pytest.raises(NotFound):
        records.cards.delete(ghost.id)


def test_card_list_newest_first_by_owner(records: Records) -> None:
    cards = [make_card(owner="ben" if i % 3 == 0 else "anna", created_at=T0 + timedelta(hours=i)) for i in range(8)]
    for c in random.Random(3).sample(cards, len(cards)):
        records.cards.add(c)
    everything = flat(walk(lambda c: records.cards.list(limit=3, cursor=c), limit=3))
    assert everything == list(reversed(cards))
    annas = flat(walk(lambda c: records.cards.list(owner="anna", limit=2, cursor=c), limit=2))
    assert annas == [c for c in reversed(cards) if c.owner == "anna"]


def test_cards_using_audio_match_whole_ids(records: Records) -> None:
    direct = make_card(audio_ids=("abc",))
    longer = make_card(audio_ids=("abcd", "zz"))
    via_playlist = replace(make_card(), playlist_id="abc")
    for c in (direct, longer, via_playlist):
        records.cards.add(c)
    assert records.cards.using_audio("abc") == [direct.id]
    assert records.cards.using_audio("zz") == [longer.id]
    records.cards.update(replace(direct, audio_ids=()))
    assert records.cards.using_audio("abc") == []


# --------------------------------------------------------------------------- tokens


def test_tokens_create_get_and_duplicate(records: Records) -> None:
    tokens = make_tokens()
    records.tokens.create(tokens)
    got = records.tokens.get("family")
    assert got == tokens and got.version == 1
    assert_utc(got.expires_at)
    with pytest.raises(AlreadyExists):
        records.tokens.create(replace(tokens, access_token="other"))
    assert records.tokens.get("family").access_token == "access-0"
    with pytest.raises(NotFound):
        records.tokens.get("nobody")


def test_tokens_compare_and_swap(records: Records) -> None:
    records.tokens.create(make_tokens())
    fresh = replace(make_tokens(), access_token="access-1", expires_at=T0 + timedelta(hours=2), version=77)
    stored = records.tokens.compare_and_swap(fresh, expected_version=1)
    assert stored.version == 2 and stored.access_token == "access-1"
    assert records.tokens.get("family") == stored

    with pytest.raises(VersionConflict):
        records.tokens.compare_and_swap(replace(fresh, access_token="late"), expected_version=1)
    assert records.tokens.get("family") == stored
    with pytest.raises(NotFound):
        records.tokens.compare_and_swap(make_tokens("nobody"), expected_version=1)

    records.tokens.delete("family")
    with pytest.raises(NotFound):
        records.tokens.get("family")


def test_tokens_compare_and_swap_has_one_winner_per_round(records: Records) -> None:
    records.tokens.create(make_tokens())
    rounds, racers = 4, 50
    for r in range(rounds):
        current = records.tokens.get("family")

        def attempt(i: int, current: YotoTokens = current, r: int = r) -> YotoTokens:
            mine = replace(current, access_token=f"access-{r}-{i}", refresh_token=f"refresh-{r}-{i}")
            return records.tokens.compare_and_swap(mine, expected_version=current.version)

        results = race(racers, attempt)
        winners = [x for x in results if isinstance(x, YotoTokens)]
        losers = [x for x in results if not isinstance(x, YotoTokens)]
        assert len(winners) == 1, losers
        assert len(losers) == racers - 1 and all(isinstance(x, VersionConflict) for x in losers), losers
        stored = records.tokens.get("family")
        assert stored == winners[0]
        assert stored.version == current.version + 1
        assert stored.refresh_token == stored.access_token.replace("access", "refresh")
    assert records.tokens.get("family").version == rounds + 1


def test_tokens_list_accounts_follows_links_and_unlinks(records: Records) -> None:
    assert records.tokens.list_accounts() == []
    for account in ("ben", "anna", "family"):
        records.tokens.create(make_tokens(account))
    records.tokens.compare_and_swap(replace(make_tokens("anna"), access_token="new"), expected_version=1)
    assert records.tokens.list_accounts() == ["anna", "ben", "family"]
    records.tokens.delete("ben")
    assert records.tokens.list_accounts() == ["anna", "family"]


# --------------------------------------------------------------------------- players


def test_player_merge_state_merges_partial_dicts(records: Records) -> None:
    with pytest.raises(NotFound):
        records.players.get_state("p1")

    first = records.players.merge_state("p1", {"volume": 5, "playing": True, "card": {"id": "c1"}})
    assert first.player_id == "p1"
    assert first.state == {"volume": 5, "playing": True, "card": {"id": "c1"}}
    assert_utc(first.updated_at)

    second = records.players.merge_state("p1", {"volume": 7, "battery": 88.5})
    assert second.state == {"volume": 7, "playing": True, "card": {"id": "c1"}, "battery": 88.5}
    assert second.updated_at >= first.updated_at
    assert records.players.get_state("p1") == second

    records.players.merge_state("p2", {"online": False})
    states = {s.player_id: s.state for s in records.players.list_states()}
    assert states == {"p1": second.state, "p2": {"online": False}}


def test_player_merges_from_many_threads_all_land(records: Records) -> None:
    records.players.merge_state("p1", {"base": 0})
    results = race(12, lambda i: records.players.merge_state("p1", {f"k{i}": i}))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert records.players.get_state("p1").state == {"base": 0, **{f"k{i}": i for i in range(12)}}


def test_player_events_newest_first_limited_and_expired_left_out(records: Records) -> None:
    now = utcnow()
    live = [
        PlayerEvent(player_id="p1", at=now - timedelta(minutes=10 - i), kind="status", payload={"n": i})
        for i in range(6)
    ]
    for event in random.Random(1).sample(live, len(live)):
        records.players.add_event(event)
    expired = PlayerEvent(player_id="p1", at=now - timedelta(seconds=1), kind="events", payload={"gone": True})
    records.players.add_event(expired, keep_s=0)
    records.players.add_event(PlayerEvent(player_id="p2", at=now, kind="presence", payload={"up": 1}))

    got = records.players.recent_events("p1")
    assert got == list(reversed(live))
    assert_utc(got[0].at)
    assert records.players.recent_events("p1", limit=3) == list(reversed(live))[:3]
    assert [e.payload for e in records.players.recent_events("p2")] == [{"up": 1}]
    assert records.players.recent_events("nobody") == []


def test_player_add_events_stores_a_batch(records: Records) -> None:
    now = utcnow()
    batch = [PlayerEvent("p1", now - timedelta(seconds=60 - i), "events", {"n": i}) for i in range(30)]  # > 25
    records.players.add_events(batch, keep_s=3600)
    records.players.add_events([], keep_s=3600)
    got = records.players.events_since("p1", now - timedelta(hours=1), limit=100).items
    assert [e.payload["n"] for e in got] == list(range(30))
    with pytest.raises((TypeError, ValueError)):
        records.players.add_events([PlayerEvent("p1", now, "events", {"bad": object()})])
    assert len(records.players.events_since("p1", now - timedelta(hours=1), limit=100).items) == 30


def test_player_events_since_oldest_first_in_pages(records: Records) -> None:
    now = utcnow()
    events = [
        PlayerEvent(
            player_id="p1", at=now - timedelta(minutes=30) + timedelta(seconds=i // 2), kind="events", payload={"n": i}
        )
        for i in range(9)  # pairs share a timestamp: the page boundary must neither repeat nor skip one
    ]
    old = PlayerEvent(player_id="p1", at=now - timedelta(hours=2), kind="events", payload={"old": True})
    for event in [old, *random.Random(2).sample(events, len(events))]:
        records.players.add_event(event)
    records.players.add_event(PlayerEvent(player_id="p1", at=now, kind="events", payload={"gone": 1}), keep_s=0)
    records.players.add_event(PlayerEvent(player_id="p2", at=now, kind="events", payload={"other": 1}))

    since = now - timedelta(hours=1)
    pages = walk(lambda cursor: records.players.events_since("p1", since, limit=4, cursor=cursor), limit=4)
    got = flat(pages)
    assert sorted(e.payload["n"] for e in got) == list(range(9))
    assert [e.at for e in got] == sorted(e.at for e in events)
    assert [len(p) for p in pages] == [4, 4, 1]
    assert records.players.events_since("p1", events[0].at, limit=100).items[0].at == events[0].at  # inclusive
    everything = records.players.events_since("p1", now - timedelta(days=1), limit=100)
    assert everything.items[0].payload == {"old": True} and everything.next_cursor is None
    assert records.players.events_since("nobody", since).items == []


# --------------------------------------------------------------------------- settings


SETTING_VALUES: dict[str, Any] = {
    "nested-dict": {"flags": {"tts": True, "beta": False}, "ids": [1, 2, 3], "ratio": 0.125, "none": None},
    "list": [1, -2, 3.5, 2**53 + 1, "zwölf", {"emoji": "🦒"}, [[]]],
    "unicode-str": "Grüße, 世界",
    "int": 42,
    "float": -0.1,
    "bool": True,
    "null": None,
}


def test_settings_round_trip_json_values(records: Records) -> None:
    """One test for every kind of value: each backend set-up costs more than the checks."""
    for key, value in SETTING_VALUES.items():
        records.settings.put(key, value)
    for key, value in SETTING_VALUES.items():
        got = records.settings.get(key)
        assert got == value, key
        assert type(got) is type(value), key
    nested = records.settings.get("nested-dict")
    assert type(nested["ratio"]) is float and type(nested["ids"][0]) is int


def test_settings_overwrite_delete_and_reject(records: Records) -> None:
    with pytest.raises(NotFound):
        records.settings.get("linked_account")
    records.settings.put("linked_account", {"account": "family", "n": 1})
    records.settings.put("linked_account", {"account": "other"})
    assert records.settings.get("linked_account") == {"account": "other"}
    records.settings.delete("linked_account")
    with pytest.raises(NotFound):
        records.settings.get("linked_account")

    with pytest.raises((TypeError, ValueError)):
        records.settings.put("bad", {"when": {1, 2}})
    with pytest.raises(NotFound):
        records.settings.get("bad")


def test_settings_keys_list_every_key_once_sorted(records: Records) -> None:
    assert records.settings.list_keys() == []
    for key in ("zeta", "alpha", "mid:dle", "alpha"):
        records.settings.put(key, {"k": key})
    records.settings.put("gone", None)
    records.settings.delete("gone")
    assert records.settings.list_keys() == ["alpha", "mid:dle", "zeta"]


# --------------------------------------------------------------------------- migration records


def make_fallback(username: str = "anna", *, expires_in: timedelta = timedelta(days=90), **kw: Any) -> PasswordFallback:
    now = utcnow()
    return PasswordFallback(
        username=username,
        secret_hash=kw.pop("secret_hash", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
        purpose=kw.pop("purpose", "password"),
        created_at=now,
        expires_at=now + expires_in,
    )


def test_fallback_put_get_replace_and_delete_once(records: Records) -> None:
    with pytest.raises(NotFound):
        records.fallbacks.get("anna")
    first = make_fallback()
    records.fallbacks.put(first)
    got = records.fallbacks.get("anna")
    assert got == first
    assert_utc(got.expires_at)
    second = make_fallback(secret_hash="$argon2id$other", purpose="reset")
    records.fallbacks.put(second)  # replaces: one record per user
    assert records.fallbacks.get("anna") == second
    records.fallbacks.put(make_fallback("ben"))
    assert records.fallbacks.delete("anna") is True
    assert records.fallbacks.delete("anna") is False
    with pytest.raises(NotFound):
        records.fallbacks.get("anna")
    assert records.fallbacks.get("ben").username == "ben"


def test_expired_fallback_reads_as_missing_and_deleting_it_redeems_nothing(records: Records) -> None:
    records.fallbacks.put(make_fallback(expires_in=timedelta(seconds=-1)))
    with pytest.raises(NotFound):
        records.fallbacks.get("anna")
    assert records.fallbacks.delete("anna") is False


def test_fallback_delete_has_one_winner(records: Records) -> None:
    records.fallbacks.put(make_fallback())
    results = race(20, lambda _i: records.fallbacks.delete("anna"))
    assert sorted(results, key=str) == [False] * 19 + [True]


# --------------------------------------------------------------------------- sessions


def make_session(username: str, *, expires_in: timedelta = timedelta(hours=1)) -> Session:
    now = utcnow()
    return Session(id=new_id(), username=username, created_at=now, expires_at=now + expires_in)


def test_session_round_trip_and_idempotent_delete(records: Records) -> None:
    session = make_session("anna")
    records.sessions.add(session)
    got = records.sessions.get(session.id)
    assert got == session
    assert_utc(got.expires_at)
    records.sessions.delete(session.id)
    with pytest.raises(NotFound):
        records.sessions.get(session.id)
    records.sessions.delete(session.id)


def test_expired_session_reads_as_not_found(records: Records) -> None:
    stale = make_session("anna", expires_in=timedelta(seconds=-1))
    records.sessions.add(stale)
    with pytest.raises(NotFound):
        records.sessions.get(stale.id)


def test_sessions_delete_for_user_removes_only_theirs(records: Records) -> None:
    annas = [make_session("anna") for _ in range(3)]
    bens = [make_session("ben") for _ in range(2)]
    for s in annas + bens:
        records.sessions.add(s)
    assert records.sessions.delete_for_user("anna") == 3
    for s in annas:
        with pytest.raises(NotFound):
            records.sessions.get(s.id)
    assert [records.sessions.get(s.id) for s in bens] == bens
    assert records.sessions.delete_for_user("anna") == 0
    assert records.sessions.delete_for_user("nobody") == 0


# --------------------------------------------------------------------------- counters


def test_counter_add_get_reset(records: Records) -> None:
    assert records.counters.get("login:anna") == 0
    assert records.counters.add("login:anna", 1, ttl_s=60) == 1
    assert records.counters.add("login:anna", 4, ttl_s=60) == 5
    assert records.counters.add("login:ben", 2, ttl_s=60) == 2
    assert records.counters.get("login:anna") == 5
    records.counters.reset("login:anna")
    assert records.counters.get("login:anna") == 0
    assert records.counters.get("login:ben") == 2
    assert records.counters.add("login:anna", 3, ttl_s=60) == 3
    records.counters.reset("never-used")


def test_counter_adds_from_many_threads_sum_exactly(records: Records) -> None:
    threads, adds = 20, 10

    def hammer(i: int) -> list[int]:
        return [records.counters.add("tts:chars", i + 1, ttl_s=300) for _ in range(adds)]

    results = race(threads, hammer)
    totals = [t for r in results if isinstance(r, list) for t in r]
    assert len(totals) == threads * adds, [r for r in results if isinstance(r, Exception)]
    expected = adds * sum(range(1, threads + 1))
    assert records.counters.get("tts:chars") == expected
    assert max(totals) == expected
    assert len(set(totals)) == len(totals)  # every add saw a distinct running total


def test_counter_window_is_fixed_and_starts_afresh(records: Records) -> None:
    started = time.monotonic()
    assert records.counters.add("quota", 1, ttl_s=2) == 1
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    assert records.counters.add("quota", 1, ttl_s=2) == 2  # same window: 1 s < 2 s
    assert records.counters.get("quota") == 2
    time.sleep(max(0.0, 2.3 - (time.monotonic() - started)))
    assert records.counters.get("quota") == 0  # the window did not slide with the second add
    assert records.counters.add("quota", 5, ttl_s=2) == 5  # an expired window starts afresh
    assert records.counters.get("quota") == 5


# --------------------------------------------------------------------------- the set


def test_records_expose_every_repository(records: Records) -> None:
    names = [
        "audio",
        "uploads",
        "playlists",
        "cards",
        "tokens",
        "players",
        "settings",
        "sessions",
        "counters",
        "fallbacks",
    ]
    missing = [n for n in names if getattr(records, n, None) is None]
    assert missing == []


# --------------------------------------------------------------------------- local only: the SQLite file itself


def test_local_sqlite_database_is_one_wal_file_with_a_busy_timeout(local_settings: Settings) -> None:
    records = Adapters(local_settings).records
    engine = records.engine  # type: ignore[attr-defined]
    records.settings.put("probe", 1)
    assert (local_settings.data_dir / "yoto.db").is_file()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_local_purge_removes_only_expired_rows(local_settings: Settings) -> None:
    records = Adapters(local_settings).records
    now = utcnow()
    live, stale = make_session("anna"), make_session("anna", expires_in=timedelta(seconds=-5))
    records.sessions.add(live)
    records.sessions.add(stale)
    records.players.add_event(PlayerEvent(player_id="p1", at=now, kind="status"), keep_s=0)
    records.players.add_event(PlayerEvent(player_id="p1", at=now, kind="presence"))
    records.counters.add("live", 1, ttl_s=600)
    time.sleep(0.01)  # the keep_s=0 event expires at the microsecond it was stored

    assert records.purge_expired() == 2  # type: ignore[attr-defined]
    assert records.sessions.get(live.id) == live
    assert [e.kind for e in records.players.recent_events("p1")] == ["presence"]
    assert records.counters.get("live") == 1
    with records.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM player_events").scalar() == 1
    assert records.purge_expired() == 0  # type: ignore[attr-defined]


_ADD_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from adapters.local.sql_records import SqlRecords
from core.settings import Settings
records = SqlRecords(Settings(data_dir=Path(sys.argv[1])))
wins = 0
for _ in range(int(sys.argv[2])):
    records.counters.add("shared", 1, ttl_s=600)
    current = records.tokens.get("family")
    try:
        records.tokens.compare_and_swap(current, expected_version=current.version)
        wins += 1
    except Exception as exc:
        if type(exc).__name__ != "VersionConflict":
            raise
print(wins)
"""


def test_local_processes_sharing_the_file_lose_no_update(local_settings: Settings) -> None:
    """Separate processes (uvicorn workers, a CLI) take turns through SQLite's
    locks and busy timeout: no 'database is locked', no lost add or swap."""
    import subprocess
    import sys

    records = Adapters(local_settings).records
    records.tokens.create(make_tokens())
    procs, adds = 3, 60
    root = Path(__file__).resolve().parents[2]
    running = [
        subprocess.Popen(
            [sys.executable, "-c", _ADD_IN_ANOTHER_PROCESS, str(local_settings.data_dir), str(adds)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(procs)
    ]
    outputs = [p.communicate(timeout=120) for p in running]
    assert [p.returncode for p in running] == [0] * procs, [err.decode() for _, err in outputs]
    assert records.counters.get("shared") == procs * adds
    wins = sum(int(out) for out, _ in outputs)
    # a swap fails only when another won since its read, and one win spoils at most procs - 1 others
    attempts = procs * adds
    assert wins >= attempts / procs
    assert records.tokens.get("family").version == 1 + wins


def test_local_read_only_records_change_nothing_and_refuse_writes(local_settings: Settings) -> None:
    import sqlalchemy as sa

    from adapters.local.sql_records import SqlRecords
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="no local install"):
        SqlRecords(local_settings, read_only=True)
    writable = SqlRecords(local_settings)
    item = make_audio()
    writable.audio.add(item)
    writable.sessions.add(make_session("anna", expires_in=timedelta(seconds=-5)))  # purge would remove it
    writable.close()
    db = local_settings.data_dir / "yoto.db"
    before = db.read_bytes()

    reader = SqlRecords(local_settings, read_only=True)
    assert reader.audio.get(item.id) == item
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        reader.settings.put("x", 1)
    reader.close()
    assert db.read_bytes() == before
