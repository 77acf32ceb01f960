"""AWS-only checks of the DynamoDB records adapter: the item layout that
docs/dynamodb.md documents, TTL attributes, and behaviour the shared contract
cannot see (lazy TTL leftovers, cursors of other listings, paths that only a
large record or a race takes). Everything runs against the moto server.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adapters.aws.clients import client
from adapters.aws.dynamo_records import DynamoRecords
from adapters.aws.dynamo_table import ConditionFailed, Table, TransactionCancelled, encode_cursor
from adapters.aws.schema import TTL_ATTRIBUTE
from core.errors import NotFound
from core.records import AudioItem, Card, PendingUpload, PlayerEvent, Playlist, Session, new_id, utcnow
from core.settings import Settings

T0 = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def records(aws_settings: Settings) -> DynamoRecords:
    return DynamoRecords(aws_settings)


@pytest.fixture
def raw(aws_settings: Settings) -> Any:
    return client(aws_settings, "dynamodb")


def raw_item(raw: Any, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    item = raw.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    de = TypeDeserializer()
    return {k: de.deserialize(v) for k, v in item.items()}


def audio(owner: str = "anna", title: str = "A story", created_at: datetime = T0) -> AudioItem:
    item_id = new_id()
    return AudioItem(
        id=item_id,
        owner=owner,
        title=title,
        storage_key=f"audio/{item_id}.mp3",
        size_bytes=10,
        duration_s=1.5,
        created_at=created_at,
    )


def playlist(audio_ids: tuple[str, ...]) -> Playlist:
    return Playlist(id=new_id(), owner="anna", name="Long drive", audio_ids=audio_ids, created_at=T0, updated_at=T0)


def run_together(n: int, fn: Any) -> list[Any]:
    barrier = threading.Barrier(n)

    def go(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(go, range(n)))


# --------------------------------------------------------------------------- layout


def test_audio_item_has_the_documented_keys(records: DynamoRecords, raw: Any) -> None:
    item = audio(owner="ben", title="The GRUFFALO", created_at=T0.astimezone(timezone(timedelta(hours=2))))
    records.audio.add(item)
    stored = raw_item(raw, records.table.name, f"AUDIO#{item.id}", "AUDIO")
    assert stored is not None
    order = f"2026-03-01T12:00:00.250000+00:00#{item.id}"  # UTC, whatever zone the record came in
    assert (stored["GSI1PK"], stored["GSI1SK"]) == ("AUDIO", order)
    assert (stored["GSI2PK"], stored["GSI2SK"]) == ("OWNER#ben#AUDIO", order)
    assert stored["title_lc"] == "the gruffalo"
    assert TTL_ATTRIBUTE not in stored

    records.audio.update(item.id, title="Room on the Broom")
    assert raw_item(raw, records.table.name, f"AUDIO#{item.id}", "AUDIO")["title_lc"] == "room on the broom"  # type: ignore[index]


def test_a_new_owner_moves_the_item_to_their_owner_partition(records: DynamoRecords, raw: Any) -> None:
    item = audio(owner="gone")
    records.audio.add(item)
    records.audio.update(item.id, owner="mum", title="Kept order")
    stored = raw_item(raw, records.table.name, f"AUDIO#{item.id}", "AUDIO")
    assert stored is not None
    order = f"2026-03-01T12:00:00.250000+00:00#{item.id}"
    assert (stored["GSI2PK"], stored["GSI2SK"]) == ("OWNER#mum#AUDIO", order)
    assert (stored["GSI1PK"], stored["GSI1SK"]) == ("AUDIO", order)
    assert (stored["owner"], stored["title_lc"]) == ("mum", "kept order")


def test_playlist_writes_one_reference_per_distinct_audio_id(records: DynamoRecords, raw: Any) -> None:
    p = playlist(("a", "b", "a"))
    records.playlists.add(p)
    table = records.table.name
    assert raw_item(raw, table, f"PLAYLIST#{p.id}", "PLAYLIST")["version"] == 1  # type: ignore[index]
    for audio_id in ("a", "b"):
        ref = raw_item(raw, table, f"USES#AUDIO#{audio_id}", f"PLAYLIST#{p.id}")
        assert ref is not None and ref["ref_id"] == p.id
    records.playlists.save(replace(p, audio_ids=("b", "c")), expected_version=1)
    assert raw_item(raw, table, "USES#AUDIO#a", f"PLAYLIST#{p.id}") is None
    assert raw_item(raw, table, "USES#AUDIO#c", f"PLAYLIST#{p.id}") is not None
    records.playlists.delete(p.id)
    for audio_id in ("b", "c"):
        assert raw_item(raw, table, f"USES#AUDIO#{audio_id}", f"PLAYLIST#{p.id}") is None


def test_expiring_items_carry_ttl_seconds_rounded_up(records: DynamoRecords, raw: Any, aws_settings: Settings) -> None:
    ttl = raw.describe_time_to_live(TableName=records.table.name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)

    expires = utcnow().replace(microsecond=400000) + timedelta(minutes=15)
    upload = PendingUpload(
        id=new_id(), owner="anna", storage_key="in/x", title=None, filename=None, max_bytes=5, expires_at=expires
    )
    records.uploads.add(upload)
    stored = raw_item(raw, records.table.name, f"UPLOAD#{upload.id}", "UPLOAD")
    assert stored is not None
    assert stored[TTL_ATTRIBUTE] == math.ceil(expires.timestamp())
    assert stored["exp_ms"] == int(expires.timestamp() * 1000)

    session = Session(id=new_id(), username="anna", created_at=utcnow(), expires_at=expires)
    records.sessions.add(session)
    for pk, sk in ((f"SESSION#{session.id}", "SESSION"), ("USER#anna#SESSIONS", f"SESSION#{session.id}")):
        assert raw_item(raw, records.table.name, pk, sk)[TTL_ATTRIBUTE] == math.ceil(expires.timestamp())  # type: ignore[index]

    before = utcnow().timestamp()
    records.counters.add("quota", 1, ttl_s=60)
    counter = raw_item(raw, records.table.name, "COUNTER#quota", "COUNTER")
    assert counter is not None and before + 60 <= counter[TTL_ATTRIBUTE] <= utcnow().timestamp() + 61

    records.players.add_event(PlayerEvent(player_id="p1", at=T0, kind="status"), keep_s=3600)
    events = raw.query(
        TableName=records.table.name,
        KeyConditionExpression="PK = :p AND begins_with(SK, :e)",
        ExpressionAttributeValues={":p": {"S": "PLAYER#p1"}, ":e": {"S": "EVENT#2026-03-01T12:00:00.250000+00:00#"}},
    )["Items"]
    assert len(events) == 1
    assert int(events[0][TTL_ATTRIBUTE]["N"]) >= before + 3600


# --------------------------------------------------------------------------- lazy TTL leftovers


def test_expired_items_still_in_the_table_are_invisible(records: DynamoRecords, raw: Any) -> None:
    """moto, like DynamoDB for a while, keeps expired items: the adapter must ignore them."""
    past_ms = int((utcnow() - timedelta(seconds=5)).timestamp() * 1000)
    stale = {"exp_ms": past_ms, TTL_ATTRIBUTE: math.ceil(past_ms / 1000)}
    records.table.put({"PK": "COUNTER#login:anna", "SK": "COUNTER", "total": 99, **stale})
    assert records.counters.get("login:anna") == 0
    assert records.counters.add("login:anna", 3, ttl_s=60) == 3
    assert records.counters.add("login:anna", 1, ttl_s=60) == 4

    old = Session(id=new_id(), username="anna", created_at=T0, expires_at=utcnow() - timedelta(seconds=5))
    live = Session(id=new_id(), username="anna", created_at=T0, expires_at=utcnow() + timedelta(hours=1))
    records.sessions.add(old)
    records.sessions.add(live)
    with pytest.raises(NotFound):
        records.sessions.get(old.id)
    assert records.sessions.delete_for_user("anna") == 1  # the expired one is removed but not counted
    assert raw_item(raw, records.table.name, f"SESSION#{old.id}", "SESSION") is None
    assert raw_item(raw, records.table.name, "USER#anna#SESSIONS", f"SESSION#{old.id}") is None


# --------------------------------------------------------------------------- cursors and paging


def test_a_cursor_only_continues_its_own_listing(records: DynamoRecords) -> None:
    for i in range(4):
        records.audio.add(audio(owner="anna", created_at=T0 + timedelta(seconds=i)))
        records.audio.add(audio(owner="ben", created_at=T0 + timedelta(seconds=i)))
    annas = records.audio.list(owner="anna", limit=1)
    assert annas.next_cursor is not None
    with pytest.raises(ValueError, match="different listing"):
        records.audio.list(owner="ben", limit=1, cursor=annas.next_cursor)
    with pytest.raises(ValueError):
        records.audio.list(limit=1, cursor=annas.next_cursor)  # GSI2 key handed to a GSI1 listing
    with pytest.raises(ValueError):
        records.playlists.list(limit=1, cursor=records.audio.list(limit=1).next_cursor)
    forged = encode_cursor({"PK": {"S": "x"}, "SK": {"N": "1"}, "GSI1PK": {"S": "AUDIO"}, "GSI1SK": {"S": "z"}})
    with pytest.raises(ValueError):
        records.audio.list(limit=1, cursor=forged)


def test_sparse_title_search_reads_across_many_dynamodb_pages(records: DynamoRecords) -> None:
    """Three matches among 450 items: each listing call has to read past several
    DynamoDB pages, and the cursor must not skip the matches it read past."""
    matches = {17, 18, 401}
    items = [
        audio(title=f"Needle {i}" if i in matches else f"Hay {i}", created_at=T0 + timedelta(seconds=i))
        for i in range(450)
    ]
    for item in items:
        records.audio.add(item)
    first = records.audio.list(query="needle", limit=2)
    assert [i.title for i in first.items] == ["Needle 401", "Needle 18"]
    assert first.next_cursor is not None
    second = records.audio.list(query="needle", limit=2, cursor=first.next_cursor)
    assert [i.title for i in second.items] == ["Needle 17"]
    assert second.next_cursor is None
    exact = records.audio.list(query="needle", limit=3)
    assert len(exact.items) == 3 and exact.next_cursor is None


# --------------------------------------------------------------------------- paths only large records or races take


def test_playlist_too_large_for_one_transaction(records: DynamoRecords, raw: Any) -> None:
    ids = tuple(f"track-{i}" for i in range(150))
    big = playlist(ids)
    records.playlists.add(big)
    assert records.playlists.get(big.id).audio_ids == ids
    assert records.playlists.using_audio("track-0") == [big.id]
    assert records.playlists.using_audio("track-149") == [big.id]

    kept = ids[100:]
    saved = records.playlists.save(replace(big, audio_ids=kept), expected_version=1)
    assert saved.version == 2
    # the stale reference stays behind, but is never reported
    assert raw_item(raw, records.table.name, "USES#AUDIO#track-0", f"PLAYLIST#{big.id}") is not None
    assert records.playlists.using_audio("track-0") == []
    assert records.playlists.using_audio("track-120") == [big.id]

    records.playlists.delete(big.id)
    assert records.playlists.using_audio("track-120") == []
    assert raw_item(raw, records.table.name, "USES#AUDIO#track-120", f"PLAYLIST#{big.id}") is None
    with pytest.raises(NotFound):
        records.playlists.delete(big.id)


def test_concurrent_merges_of_different_keys_all_survive(records: DynamoRecords) -> None:
    threads, rounds = 12, 4

    def merge(i: int) -> None:
        for r in range(rounds):
            records.players.merge_state("p1", {f"key{i}": r, "shared": i})

    assert all(x is None for x in run_together(threads, merge))
    state = records.players.get_state("p1").state
    assert {k: v for k, v in state.items() if k != "shared"} == {f"key{i}": rounds - 1 for i in range(threads)}
    assert state["shared"] in range(threads)


def test_racing_card_updates_leave_references_matching_the_winner(records: DynamoRecords, raw: Any) -> None:
    card = Card(id=new_id(), owner="anna", title="Card", audio_ids=("start",), created_at=T0, updated_at=T0)
    records.cards.add(card)
    racers = 8
    results = run_together(racers, lambda i: records.cards.update(replace(card, audio_ids=(f"a{i}", "common"))))
    assert all(isinstance(r, Card) for r in results), results
    final = records.cards.get(card.id)
    table = records.table.name
    for audio_id in ["start", "common", *(f"a{i}" for i in range(racers))]:
        ref = raw_item(raw, table, f"USES#AUDIO#{audio_id}", f"CARD#{card.id}")
        assert (ref is not None) == (audio_id in final.audio_ids), audio_id
    assert records.cards.using_audio("common") == [card.id]


def test_transaction_cancelled_by_a_conflict_is_retried(aws_settings: Settings) -> None:
    """moto never cancels for TransactionConflict, so botocore's Stubber plays DynamoDB here."""
    from botocore.stub import Stubber

    table = Table(aws_settings)
    action = table.put_action({"PK": "X", "SK": "Y"})

    def cancel(code: str) -> dict[str, Any]:
        return {
            "service_error_code": "TransactionCanceledException",
            "service_message": f"Transaction cancelled [{code}]",
            "modeled_fields": {"CancellationReasons": [{"Code": code}]},
        }

    with Stubber(table.client) as stub:
        stub.add_client_error("transact_write_items", **cancel("TransactionConflict"))
        stub.add_client_error("transact_write_items", **cancel("TransactionConflict"))
        stub.add_response("transact_write_items", {})
        table.transact([action])
        stub.assert_no_pending_responses()

        stub.add_client_error("transact_write_items", **cancel("ConditionalCheckFailed"))
        with pytest.raises(TransactionCancelled) as caught:
            table.transact([action])
        assert caught.value.condition_failed == [0]
        stub.assert_no_pending_responses()


def test_bad_values_are_rejected_before_anything_is_written(records: DynamoRecords, raw: Any) -> None:
    with pytest.raises(ValueError, match="JSON"):
        records.players.merge_state("p9", {"ok": 1, "bad": float("nan")})
    with pytest.raises(NotFound):
        records.players.get_state("p9")
    with pytest.raises(ValueError):
        records.settings.put("flag", {"x": float("inf")})
    with pytest.raises(NotFound):
        records.settings.get("flag")
    with pytest.raises(ConditionFailed):
        records.table.put({"PK": "SETTING#x", "SK": "SETTING"}, condition="attribute_exists(PK)")
