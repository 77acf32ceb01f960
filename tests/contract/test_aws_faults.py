"""AWS outages arrive as `BackendUnavailable`, on every call path, over the wire.

The AWS adapters talk to the moto server through `tests.fault_proxy`, a real
HTTP proxy that answers DynamoDB's own throttling error (HTTP 400, JSON
`__type`), drops connections or holds requests past the read timeout when
the test says so. Each fault is shown to become `BackendUnavailable` with
`Retry-After` (never a raw botocore error), to cost exactly the bounded
number of attempts, and to leave nothing behind: once the fault clears the
same call succeeds and the records read back as if it had never happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from adapters import Adapters
from adapters.aws import clients
from adapters.aws.clients import LIMITS, Limits
from adapters.aws.dynamo_table import _BATCH_ATTEMPTS, _CONFLICT_ATTEMPTS
from core.errors import AlreadyExists, BackendUnavailable, NotFound
from core.ports import Records
from core.records import AudioItem, Playlist, Session, new_id, utcnow
from core.settings import Settings
from tests.contract.test_records import make_audio
from tests.fault_proxy import THROTTLE_CODES, FaultProxy, fault_proxy
from tests.servers import free_port

ATTEMPTS = LIMITS["dynamodb"].attempts


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(moto_endpoint) as p:
        yield p


@pytest.fixture
def via_proxy(aws_settings: Settings, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shared AWS settings with DynamoDB reached through the proxy (S3 and Cognito direct)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
    return aws_settings


@pytest.fixture
def records(via_proxy: Settings) -> Records:
    return Adapters(via_proxy).records


def _session(username: str = "mum") -> Session:
    now = utcnow()
    return Session(id=new_id(), username=username, created_at=now, expires_at=now + timedelta(hours=1))


def assert_unavailable(
    caught: pytest.ExceptionInfo[BackendUnavailable], operation: str, *, from_botocore: bool = True
) -> None:
    exc = caught.value
    assert f"DynamoDB {operation}" in str(exc), str(exc)
    assert exc.headers.get("Retry-After") == "1"
    if from_botocore:  # the botocore error is kept as the cause, for the log
        from botocore.exceptions import BotoCoreError, ClientError

        assert isinstance(exc.__cause__, BotoCoreError | ClientError), repr(exc.__cause__)


# --------------------------------------------------------------------------- every call path


@dataclass(frozen=True)
class Path:
    """One repository call, the DynamoDB operation the fault targets, and what success looks like."""

    name: str
    operation: str
    call: Callable[[Records, AudioItem], Any]
    check: Callable[[Records, AudioItem, Any], None]


NEW_ITEM = make_audio(owner="mum", title="new", created_at=utcnow())
PLAYLIST_ID = new_id()


def _check_sessions_gone(records: Records, seed: AudioItem, result: Any) -> None:
    for sid in ("s-one", "s-two"):
        with pytest.raises(NotFound):
            records.sessions.get(sid)
    assert records.sessions.delete_for_user("dad") == 0


def _check_playlist(records: Records, seed: AudioItem, result: Any) -> None:
    assert records.playlists.get(PLAYLIST_ID).audio_ids == (seed.id,)
    assert records.playlists.using_audio(seed.id) == [PLAYLIST_ID]


def _check_deleted(records: Records, seed: AudioItem, result: Any) -> None:
    with pytest.raises(NotFound):
        records.audio.get(seed.id)


PATHS = [
    Path("get", "GetItem", lambda r, s: r.audio.get(s.id), lambda r, s, got: assert_equal(got, s)),
    Path(
        "projected get (the player stream's read)",
        "GetItem",
        lambda r, s: r.audio.stream_ref(s.id),
        lambda r, s, ref: assert_equal((ref.stream_key, ref.storage_key), (s.stream_key, s.storage_key)),
    ),
    Path(
        "query",
        "Query",
        lambda r, s: r.audio.list(limit=10),
        lambda r, s, page: assert_equal([i.id for i in page.items], [s.id]),
    ),
    Path(
        "query on an index",
        "Query",
        lambda r, s: r.audio.list(owner=s.owner, limit=10),
        lambda r, s, page: assert_equal([i.id for i in page.items], [s.id]),
    ),
    Path(
        "batch write",
        "BatchWriteItem",
        lambda r, s: r.sessions.delete_for_user("dad"),
        _check_sessions_gone,
    ),
    Path(
        "conditional put",
        "PutItem",
        lambda r, s: r.audio.add(NEW_ITEM),
        lambda r, s, _: assert_equal(r.audio.get(NEW_ITEM.id), NEW_ITEM),
    ),
    Path(
        "unconditional put",
        "PutItem",
        lambda r, s: r.settings.put("bedtime", {"at": "19:30"}),
        lambda r, s, _: assert_equal(r.settings.get("bedtime"), {"at": "19:30"}),
    ),
    Path(
        "conditional update",
        "UpdateItem",
        lambda r, s: r.audio.update(s.id, title="renamed"),
        lambda r, s, got: assert_equal((got.title, r.audio.get(s.id).title), ("renamed", "renamed")),
    ),
    Path(
        "counter update",
        "UpdateItem",
        lambda r, s: r.counters.add("tts:mum", 5, ttl_s=60),
        lambda r, s, got: assert_equal((got, r.counters.get("tts:mum")), (5, 5)),
    ),
    Path("conditional delete", "DeleteItem", lambda r, s: r.audio.delete(s.id), _check_deleted),
    Path(
        "transaction",
        "TransactWriteItems",
        lambda r, s: r.playlists.add(Playlist(id=PLAYLIST_ID, owner="mum", name="bedtime", audio_ids=(s.id,))),
        _check_playlist,
    ),
]


def assert_equal(got: Any, expected: Any) -> None:
    assert got == expected


def _seed(records: Records) -> AudioItem:
    seed = make_audio(owner="mum", created_at=utcnow())
    records.audio.add(seed)
    records.sessions.add(replace(_session("dad"), id="s-one"))
    records.sessions.add(replace(_session("dad"), id="s-two"))
    return seed


@pytest.mark.parametrize(
    ("path", "code"),
    [(p, THROTTLE_CODES[i % len(THROTTLE_CODES)]) for i, p in enumerate(PATHS)],
    ids=[f"{p.name}-{THROTTLE_CODES[i % len(THROTTLE_CODES)]}" for i, p in enumerate(PATHS)],
)
def test_persistent_throttling_is_unavailable_then_the_call_succeeds(
    records: Records, proxy: FaultProxy, path: Path, code: str
) -> None:
    seed = _seed(records)
    proxy.throttle(code=code, operation=path.operation)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as caught:
        path.call(records, seed)
    elapsed = time.monotonic() - started
    assert_unavailable(caught, path.operation)
    assert code in str(caught.value)
    # botocore retried within its bound, then gave up well inside API Gateway's 30 s.
    assert proxy.count(path.operation, "error") == ATTEMPTS
    assert elapsed < 10, elapsed

    proxy.clear()
    path.check(records, seed, path.call(records, seed))


def test_one_throttled_answer_is_absorbed_by_the_retry(records: Records, proxy: FaultProxy) -> None:
    seed = _seed(records)
    proxy.throttle(1, operation="GetItem")
    assert records.audio.get(seed.id) == seed
    assert proxy.count("GetItem", "error") == 1
    assert proxy.count("GetItem", "forwarded") == 1


def test_dropped_connections_on_a_read_are_unavailable(records: Records, proxy: FaultProxy) -> None:
    seed = _seed(records)
    proxy.drop(operation="Query")
    with pytest.raises(BackendUnavailable) as caught:
        records.audio.list(limit=10)
    assert_unavailable(caught, "Query")
    assert "ConnectionClosedError" in str(caught.value)
    assert proxy.count("Query", "dropped") == ATTEMPTS
    proxy.clear()
    assert [i.id for i in records.audio.list(limit=10).items] == [seed.id]


def test_dropped_connections_on_a_transaction_are_unavailable(records: Records, proxy: FaultProxy) -> None:
    seed = _seed(records)
    playlist = Playlist(id=new_id(), owner="mum", name="car", audio_ids=(seed.id,))
    proxy.drop(operation="TransactWriteItems")
    with pytest.raises(BackendUnavailable) as caught:
        records.playlists.add(playlist)
    assert_unavailable(caught, "TransactWriteItems")
    with pytest.raises(NotFound):
        records.playlists.get(playlist.id)
    proxy.clear()
    records.playlists.add(playlist)
    assert records.playlists.using_audio(seed.id) == [playlist.id]


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> Limits:
    """A read timeout short enough to wait out in a test; set before any client is made."""
    limits = Limits(connect_s=1.0, read_s=0.5, attempts=2)
    monkeypatch.setitem(clients.LIMITS, "dynamodb", limits)
    return limits


def test_an_answer_later_than_the_read_timeout_is_unavailable(
    short_timeouts: Limits, records: Records, proxy: FaultProxy
) -> None:
    seed = _seed(records)
    proxy.delay(short_timeouts.read_s * 3, operation="GetItem")
    with pytest.raises(BackendUnavailable) as caught:
        records.audio.get(seed.id)
    assert_unavailable(caught, "GetItem")
    assert "did not answer in time" in str(caught.value)
    assert proxy.count("GetItem", "delayed") == short_timeouts.attempts
    proxy.clear()
    assert records.audio.get(seed.id) == seed


def test_one_slow_answer_is_absorbed_by_the_retry(short_timeouts: Limits, records: Records, proxy: FaultProxy) -> None:
    seed = _seed(records)
    proxy.delay(short_timeouts.read_s * 3, 1, operation="GetItem")
    assert records.audio.get(seed.id) == seed
    assert proxy.count("GetItem", "delayed") == 1


def test_an_endpoint_nobody_listens_on_is_unavailable(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    records = Adapters(aws_settings).records
    with pytest.raises(BackendUnavailable) as caught:
        records.audio.get("anything")
    assert_unavailable(caught, "GetItem")
    assert "could not be reached" in str(caught.value)


# --------------------------------------------------------------------------- what DynamoDB reports inside answers


def test_a_transaction_cancelled_by_throttling_is_retried_then_unavailable(records: Records, proxy: FaultProxy) -> None:
    seed = _seed(records)
    playlist = Playlist(id=new_id(), owner="mum", name="car", audio_ids=(seed.id,))
    proxy.cancel_transaction(["None", "ThrottlingError"])
    with pytest.raises(BackendUnavailable) as caught:
        records.playlists.add(playlist)
    assert_unavailable(caught, "TransactWriteItems")
    assert "ThrottlingError" in str(caught.value)
    assert proxy.count("TransactWriteItems", "error") == _CONFLICT_ATTEMPTS

    proxy.clear()
    forwarded = proxy.count("TransactWriteItems", "forwarded")
    proxy.cancel_transaction(["ProvisionedThroughputExceeded", "None"], n=2)
    records.playlists.add(playlist)
    assert records.playlists.get(playlist.id).audio_ids == (seed.id,)
    assert proxy.count("TransactWriteItems", "forwarded") == forwarded + 1

    # A one-action transaction (an empty playlist) throttled once, then through.
    empty = Playlist(id=new_id(), owner="mum", name="empty")
    proxy.cancel_transaction(["ThrottlingError"], n=1)
    records.playlists.add(empty)
    assert records.playlists.get(empty.id).audio_ids == ()
    assert proxy.count("TransactWriteItems", "forwarded") == forwarded + 2


def test_a_failed_condition_beside_throttling_keeps_its_meaning(records: Records, proxy: FaultProxy) -> None:
    seed = _seed(records)
    playlist = Playlist(id=new_id(), owner="mum", name="car", audio_ids=(seed.id,))
    records.playlists.add(playlist)
    before = proxy.count("TransactWriteItems")
    proxy.cancel_transaction(["ConditionalCheckFailed", "ThrottlingError"], n=1)
    with pytest.raises(AlreadyExists):
        records.playlists.add(playlist)
    assert proxy.count("TransactWriteItems") == before + 1  # decided, not retried


def test_batch_writes_left_unprocessed_are_sent_again_then_unavailable(records: Records, proxy: FaultProxy) -> None:
    _seed(records)
    proxy.leave_unprocessed()
    with pytest.raises(BackendUnavailable) as caught:
        records.sessions.delete_for_user("dad")
    assert_unavailable(caught, "BatchWriteItem", from_botocore=False)  # every answer was a 200
    assert "unprocessed" in str(caught.value)
    assert proxy.count("BatchWriteItem", "unprocessed") == _BATCH_ATTEMPTS

    proxy.clear()
    proxy.leave_unprocessed(2)
    records.sessions.add(replace(_session("dad"), id="s-three"))
    records.sessions.delete_for_user("dad")
    assert proxy.count("BatchWriteItem", "forwarded") == 1
    assert records.sessions.delete_for_user("dad") == 0


# --------------------------------------------------------------------------- the client layer, whatever calls it


def test_every_dynamodb_operation_on_the_client_maps_outages(via_proxy: Settings, proxy: FaultProxy) -> None:
    """Operations no repository uses yet (scans, batch and transactional reads)
    are covered too, because the mapping lives on the client itself."""
    ddb = clients.client(via_proxy, "dynamodb")
    table = via_proxy.dynamodb_table
    key = {"PK": {"S": "X"}, "SK": {"S": "Y"}}
    calls: dict[str, Callable[[], Any]] = {
        "Scan": lambda: ddb.scan(TableName=table, Limit=1),
        "BatchGetItem": lambda: ddb.batch_get_item(RequestItems={table: {"Keys": [key]}}),
        "TransactGetItems": lambda: ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}]),
        "DescribeTable": lambda: ddb.describe_table(TableName=table),
    }
    for i, (operation, call) in enumerate(calls.items()):
        proxy.throttle(code=THROTTLE_CODES[i % len(THROTTLE_CODES)], operation=operation)
        with pytest.raises(BackendUnavailable) as caught:
            call()
        assert_unavailable(caught, operation)
        proxy.clear()
        call()
    # A request that is wrong stays botocore's error, for the adapter to map.
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        ddb.get_item(TableName="no-such-table", Key=key)


_S3_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>R1</RequestId></Error>"
)
_COGNITO_THROTTLE = b'{"__type":"TooManyRequestsException","message":"Rate exceeded"}'
_POLLY_THROTTLE = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'


@pytest.mark.parametrize(
    ("env", "status", "body", "content_type", "call", "service"),
    [
        (
            "S3",
            503,
            _S3_SLOW_DOWN,
            "application/xml",
            lambda a: a.storage.put_bytes("audio/x.mp3", b"abc", "audio/mpeg"),
            "S3 PutObject",
        ),
        ("S3", 503, b"", "application/xml", lambda a: a.storage.head("audio/x.mp3"), "S3 HeadObject"),
        (
            "COGNITO_IDENTITY_PROVIDER",
            400,
            _COGNITO_THROTTLE,
            "application/x-amz-json-1.1",
            lambda a: a.identity.list_users(),
            "Cognito Identity Provider",
        ),
        ("POLLY", 400, _POLLY_THROTTLE, "application/json", lambda a: a.tts.voices(), "Polly DescribeVoices"),
    ],
    ids=["s3-put", "s3-head", "cognito", "polly"],
)
def test_other_services_map_throttling_too(
    aws_settings: Settings,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
    status: int,
    body: bytes,
    content_type: str,
    call: Callable[[Adapters], Any],
    service: str,
) -> None:
    monkeypatch.setenv(f"AWS_ENDPOINT_URL_{env}", proxy.url)
    adapters = Adapters(aws_settings)
    proxy.fail(status=status, body=body, content_type=content_type)
    with pytest.raises(BackendUnavailable) as caught:
        call(adapters)
    assert service in str(caught.value)
    assert caught.value.headers.get("Retry-After") == "1"
    # Each service's own bounded attempts (all three have 3).
    assert proxy.count(outcome="error") == 3
    proxy.clear()
    if env == "S3":
        adapters.storage.put_bytes("audio/x.mp3", b"abc", "audio/mpeg")
        assert adapters.storage.head("audio/x.mp3").size == 3
    else:
        call(adapters)
