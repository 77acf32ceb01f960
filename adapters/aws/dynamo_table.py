"""The single DynamoDB table as the record repositories see it.

A thin layer over the low-level client: typed (de)serialisation, the
condition-failure exceptions the repositories map onto `core.errors`, and
one paging loop that yields exact, opaque cursors even when a filter drops
items. Item layout and access patterns: docs/dynamodb.md.

Outages never reach a repository as botocore errors: the client
(`adapters.aws.clients`) raises `BackendUnavailable` for throttling, 5xx
answers, lost connections and timeouts on every call, and this wrapper does
the same for the two ways DynamoDB reports them inside a successful-looking
answer: a batch left unprocessed, and a transaction cancelled only because it
was throttled or kept clashing with others.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.aws.clients import unavailable
from adapters.aws.schema import GSIS, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from core.errors import ConfigError
from core.settings import Settings

PK = PARTITION_KEY
SK = SORT_KEY
# Exact expiry in epoch milliseconds. The TTL attribute only tells DynamoDB's
# background sweeper what it may delete; reads and conditions use this one.
EXPIRY_MS = "exp_ms"
# A transaction holds at most this many actions (DynamoDB's limit).
MAX_TRANSACTION_ITEMS = 100
# Tries of a transaction that another transaction on the same items cancelled.
_CONFLICT_ATTEMPTS = 5
# Tries of a BatchWriteItem chunk that DynamoDB (throttled) left partly unprocessed.
_BATCH_ATTEMPTS = 8
_INDEX_KEYS = {name: (pk, sk) for name, pk, sk in GSIS}
# Cancellation reasons that say nothing about the request: the same transaction may succeed later.
_TRANSIENT_REASONS = frozenset({"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class ConditionFailed(Exception):
    """A single-item write's ConditionExpression was false."""


class TransactionCancelled(Exception):
    """A transaction was cancelled; `reasons` holds one code per action ("None" for the fine ones)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    @property
    def condition_failed(self) -> list[int]:
        return [i for i, code in enumerate(self.reasons) if code == "ConditionalCheckFailed"]


# --------------------------------------------------------------------------- time


def _aware(dt: datetime) -> datetime:
    """Refuse a naive datetime: guessing its zone would silently shift the record in time."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime {dt.isoformat()} has no time zone; records take timezone-aware UTC times")
    return dt


def iso(dt: datetime) -> str:
    """Fixed-width UTC ISO text, so that string order is time order (sort keys)."""
    return _aware(dt).astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def epoch_ms(dt: datetime) -> int:
    return math.floor(_aware(dt).timestamp() * 1000)


def now_ms() -> int:
    return epoch_ms(datetime.now(UTC))


def expiry_attrs(ms: int) -> dict[str, int]:
    """The two expiry attributes: exact milliseconds, and whole seconds (rounded up) for TTL."""
    return {EXPIRY_MS: ms, TTL_ATTRIBUTE: math.ceil(ms / 1000)}


# --------------------------------------------------------------------------- values


def to_number(value: Any) -> int | float:
    """A DynamoDB number back as the Python type it was: int when integral."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value  # type: ignore[no-any-return]


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot store the number {value!r}")
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


# --------------------------------------------------------------------------- cursors


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, index: str | None, partition: str) -> dict[str, Any]:
    """The ExclusiveStartKey inside `cursor`, checked to belong to this listing."""
    names = {PK, SK, *(_INDEX_KEYS[index] if index else ())}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise ValueError("invalid cursor: not one this service handed out") from exc
    if (
        not isinstance(key, dict)
        or set(key) != names
        or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
    ):
        raise ValueError("invalid cursor: not one this service handed out")
    part_attr = _INDEX_KEYS[index][0] if index else PK
    if key[part_attr]["S"] != partition:
        raise ValueError("invalid cursor: it belongs to a different listing")
    return key


@dataclass(frozen=True)
class QueryResult:
    items: list[dict[str, Any]]
    next_cursor: str | None


# --------------------------------------------------------------------------- the table


class Table:
    """The records table and one lazily created, thread-safe low-level client."""

    def __init__(self, settings: Settings) -> None:
        if not settings.dynamodb_table:
            raise ConfigError("DYNAMODB_TABLE must be set for the DynamoDB records")
        self.name: str = settings.dynamodb_table
        self._settings = settings
        self._client: Any = None
        self._lock = threading.Lock()
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from adapters.aws.clients import client

                    self._client = client(self._settings, "dynamodb")
        return self._client

    # ---------------------------------------------------------------- codec

    def serialize(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(_to_dynamo(v)) for k, v in item.items()}

    def deserialize(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._de.deserialize(v) for k, v in item.items()}

    def values(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(_to_dynamo(v)) for k, v in values.items()}

    @staticmethod
    def key(pk: str, sk: str) -> dict[str, Any]:
        return {PK: {"S": pk}, SK: {"S": sk}}

    # ---------------------------------------------------------------- single items

    def _call(self, action: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        try:
            return getattr(self.client, action)(TableName=self.name, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(str(exc)) from exc
            raise

    def get(self, pk: str, sk: str, *, attributes: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """A strongly consistent read; only `attributes` when given (a projection)."""
        projection: dict[str, Any] = {}
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        out = self.client.get_item(TableName=self.name, Key=self.key(pk, sk), ConsistentRead=True, **projection)
        item = out.get("Item")
        return self.deserialize(item) if item else None

    def put(self, item: dict[str, Any], **condition: Any) -> None:
        self._call("put_item", Item=self.serialize(item), **self._expr(**condition))

    def update(self, pk: str, sk: str, *, update: str, **rest: Any) -> dict[str, Any]:
        """UpdateItem; returns the item as it is after the update."""
        out = self._call(
            "update_item", Key=self.key(pk, sk), UpdateExpression=update, ReturnValues="ALL_NEW", **self._expr(**rest)
        )
        return self.deserialize(out.get("Attributes", {}))

    def delete(self, pk: str, sk: str, **condition: Any) -> dict[str, Any] | None:
        """DeleteItem; returns the item that was there, or None."""
        out = self._call("delete_item", Key=self.key(pk, sk), ReturnValues="ALL_OLD", **self._expr(**condition))
        old = out.get("Attributes")
        return self.deserialize(old) if old else None

    def put_many(self, items: Iterable[dict[str, Any]]) -> None:
        """Unconditional puts (BatchWriteItem); not atomic, so only for items that may lag or linger."""
        self._batch_write([{"PutRequest": {"Item": self.serialize(i)}} for i in items])

    def delete_many(self, keys: Iterable[tuple[str, str]]) -> None:
        """Unconditional deletes (BatchWriteItem)."""
        self._batch_write([{"DeleteRequest": {"Key": self.key(pk, sk)}} for pk, sk in dict.fromkeys(keys)])

    def _batch_write(self, pending: list[dict[str, Any]]) -> None:
        """Writes in batches of 25, sending again whatever DynamoDB left unprocessed."""
        for start in range(0, len(pending), 25):
            batch = pending[start : start + 25]
            for attempt in range(_BATCH_ATTEMPTS):
                out = self.client.batch_write_item(RequestItems={self.name: batch})
                batch = out.get("UnprocessedItems", {}).get(self.name, [])
                if not batch:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
            if batch:
                raise unavailable("DynamoDB", "BatchWriteItem", f"left {len(batch)} writes unprocessed (throttled)")

    def _expr(
        self,
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = self.values(values)
        return kwargs

    # ---------------------------------------------------------------- transactions

    def put_action(self, item: dict[str, Any], **condition: Any) -> dict[str, Any]:
        return {"Put": {"TableName": self.name, "Item": self.serialize(item), **self._expr(**condition)}}

    def delete_action(self, pk: str, sk: str, **condition: Any) -> dict[str, Any]:
        return {"Delete": {"TableName": self.name, "Key": self.key(pk, sk), **self._expr(**condition)}}

    def transact(self, actions: list[dict[str, Any]]) -> None:
        from botocore.exceptions import ClientError

        if len(actions) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} writes, not {len(actions)}")
        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=actions)
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                if not reasons:
                    reasons = _reasons_from_message(str(exc), len(actions))
                # A clash with another transaction on the same item, or throttling, says
                # nothing about our conditions: try again, and the conditions decide on fresh data.
                causes = set(reasons) - {"None"}
                if causes and causes <= _TRANSIENT_REASONS:
                    if attempt + 1 < _CONFLICT_ATTEMPTS:
                        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                        continue
                    why = "kept being cancelled (" + ", ".join(sorted(causes)) + ")"
                    raise unavailable("DynamoDB", "TransactWriteItems", why) from exc
                raise TransactionCancelled(reasons) from exc

    # ---------------------------------------------------------------- queries

    def query(
        self,
        *,
        partition: str,
        index: str | None = None,
        sk_prefix: str | None = None,
        sk_between: tuple[str, str] | None = None,
        newest_first: bool = True,
        filter: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> QueryResult:
        """Items of one partition (of the table or an index) in sort-key order,
        narrowed to a sort-key prefix or an inclusive range (`sk_between`).

        With `limit`, reads page after page until `limit` items have passed the
        filter *and* one more is known to exist, so `next_cursor` is None exactly
        when nothing follows. The cursor is the key of the last item returned,
        not DynamoDB's LastEvaluatedKey: a page read beyond that item may hold
        matches that were not returned yet.
        """
        pk_attr, sk_attr = _INDEX_KEYS[index] if index else (PK, SK)
        names = {"#p": pk_attr, **(names or {})}
        vals: dict[str, Any] = {":p": partition, **(values or {})}
        key_cond = "#p = :p"
        if sk_prefix is not None:
            names["#s"] = sk_attr
            vals[":sp"] = sk_prefix
            key_cond += " AND begins_with(#s, :sp)"
        elif sk_between is not None:
            names["#s"] = sk_attr
            vals[":sa"], vals[":sb"] = sk_between
            key_cond += " AND #s BETWEEN :sa AND :sb"
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": key_cond,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": self.values(vals),
            "ScanIndexForward": not newest_first,
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        if filter:
            kwargs["FilterExpression"] = filter
        if limit is not None:
            if limit <= 0:
                return QueryResult([], None)
            kwargs["Limit"] = limit + 1 if not filter else max(limit + 1, 200)
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, index=index, partition=partition)
        raw: list[dict[str, Any]] = []
        while True:
            out = self.client.query(TableName=self.name, **kwargs)
            raw.extend(out.get("Items", []))
            last = out.get("LastEvaluatedKey")
            if not last or (limit is not None and len(raw) > limit):
                break
            kwargs["ExclusiveStartKey"] = last
        if limit is None or len(raw) <= limit:
            return QueryResult([self.deserialize(i) for i in raw], None)
        raw = raw[:limit]
        key_names = (PK, SK, *((pk_attr, sk_attr) if index else ()))
        next_key = {n: raw[-1][n] for n in key_names}
        return QueryResult([self.deserialize(i) for i in raw], encode_cursor(next_key))


def _reasons_from_message(message: str, count: int) -> list[str]:
    """Cancellation codes parsed from the message, for clients that drop `CancellationReasons`.

    The message reads "... cancelled, please refer cancellation reasons for
    specific reasons [None, ConditionalCheckFailed]".
    """
    start, end = message.rfind("["), message.rfind("]")
    if start == -1 or end < start:
        return ["Unknown"] * count
    return [part.strip() for part in message[start + 1 : end].split(",")]
