"""Yoto tokens, settings, login sessions, counters and migration records in the DynamoDB table.

Each is one item per key. Sessions add a second item in the user's partition,
written in the same transaction, so revoking every session of a user is a
strongly consistent Query rather than a read of an eventually consistent index
that could miss the login made a moment ago.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from adapters.aws import dynamo_codecs as codecs
from adapters.aws.dynamo_table import (
    EXPIRY_MS,
    PK,
    SK,
    ConditionFailed,
    Table,
    TransactionCancelled,
    epoch_ms,
    expiry_attrs,
    iso,
    now_ms,
)
from core.errors import AlreadyExists, NotFound, VersionConflict
from core.records import PasswordFallback, Session, YotoTokens, utcnow

_NEW = "attribute_not_exists(PK)"
ACCOUNTS_PARTITION = "YOTO_ACCOUNTS"
SETTINGS_PARTITION = "SETTINGS"
_EXISTS = "attribute_exists(PK)"


class DynamoTokens:
    """Compare-and-swap is a conditional PutItem on the stored `version`."""

    def __init__(self, table: Table) -> None:
        self._t = table

    @staticmethod
    def _pk(account: str) -> str:
        return f"TOKENS#{account}"

    def _item(self, tokens: YotoTokens) -> dict[str, Any]:
        # GSI1 lists the linked accounts (the MQTT listener connects one per account)
        return {
            PK: self._pk(tokens.account),
            SK: "TOKENS",
            "entity": "tokens",
            "GSI1PK": ACCOUNTS_PARTITION,
            "GSI1SK": tokens.account,
            **codecs.TOKENS.dump(tokens),
        }

    def get(self, account: str) -> YotoTokens:
        i = self._t.get(self._pk(account), "TOKENS")
        if i is None:
            raise NotFound(f"no Yoto tokens for account {account!r}")
        return codecs.TOKENS.load(i)

    def create(self, tokens: YotoTokens) -> None:
        try:
            self._t.put(self._item(tokens), condition=_NEW)
        except ConditionFailed:
            raise AlreadyExists(f"account {tokens.account!r} already has tokens") from None

    def compare_and_swap(self, tokens: YotoTokens, *, expected_version: int) -> YotoTokens:
        new = replace(tokens, version=expected_version + 1, updated_at=utcnow())
        try:
            self._t.put(self._item(new), condition="version = :v", values={":v": expected_version})
        except ConditionFailed:
            if self._t.get(self._pk(tokens.account), "TOKENS") is None:
                raise NotFound(f"no Yoto tokens for account {tokens.account!r}") from None
            raise VersionConflict(
                f"tokens of account {tokens.account!r} are no longer at version {expected_version}"
            ) from None
        return new

    def delete(self, account: str) -> None:
        try:
            self._t.delete(self._pk(account), "TOKENS", condition=_EXISTS)
        except ConditionFailed:
            raise NotFound(f"no Yoto tokens for account {account!r}") from None

    def list_accounts(self) -> list[str]:
        res = self._t.query(partition=ACCOUNTS_PARTITION, index="GSI1", newest_first=False)
        return [str(item["GSI1SK"]) for item in res.items]


class DynamoSettings:
    """Values are kept as JSON text: they round-trip exactly (1.0 stays a float), unlike DynamoDB numbers."""

    def __init__(self, table: Table) -> None:
        self._t = table

    @staticmethod
    def _pk(key: str) -> str:
        return f"SETTING#{key}"

    def get(self, key: str) -> Any:
        i = self._t.get(self._pk(key), "SETTING")
        if i is None:
            raise NotFound(f"setting {key!r} not found")
        return json.loads(i["value"])

    def put(self, key: str, value: Any) -> None:
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"setting {key!r} must be a JSON value: {exc}") from exc
        item = {PK: self._pk(key), SK: "SETTING", "entity": "setting", "key": key, "value": text}
        # GSI1 lists the keys (the migration copies every setting)
        self._t.put({**item, "GSI1PK": SETTINGS_PARTITION, "GSI1SK": key})

    def delete(self, key: str) -> None:
        try:
            self._t.delete(self._pk(key), "SETTING", condition=_EXISTS)
        except ConditionFailed:
            raise NotFound(f"setting {key!r} not found") from None

    def list_keys(self) -> list[str]:
        res = self._t.query(partition=SETTINGS_PARTITION, index="GSI1", newest_first=False)
        return [str(item["GSI1SK"]) for item in res.items]


class DynamoSessions:
    def __init__(self, table: Table) -> None:
        self._t = table

    @staticmethod
    def _pk(session_id: str) -> str:
        return f"SESSION#{session_id}"

    @staticmethod
    def _user_key(username: str, session_id: str) -> tuple[str, str]:
        return f"USER#{username}#SESSIONS", f"SESSION#{session_id}"

    def add(self, session: Session) -> None:
        expiry = expiry_attrs(epoch_ms(session.expires_at))
        main = {PK: self._pk(session.id), SK: "SESSION", "entity": "session", **codecs.SESSIONS.dump(session), **expiry}
        upk, usk = self._user_key(session.username, session.id)
        by_user = {PK: upk, SK: usk, "entity": "user_session", "id": session.id, **expiry}
        try:
            self._t.transact([self._t.put_action(main, condition=_NEW), self._t.put_action(by_user)])
        except TransactionCancelled as exc:
            if 0 in exc.condition_failed:
                raise AlreadyExists(f"session {session.id!r} already exists") from None
            raise

    def get(self, session_id: str) -> Session:
        i = self._t.get(self._pk(session_id), "SESSION")
        if i is None or int(i[EXPIRY_MS]) <= now_ms():
            raise NotFound("session not found or expired")
        return codecs.SESSIONS.load(i)

    def _remove(self, session_id: str) -> bool:
        """Delete one session and its user-partition entry; True if a live session went."""
        old = self._t.delete(self._pk(session_id), "SESSION")
        if old is None:
            return False
        self._t.delete(*self._user_key(old["username"], session_id))
        return int(old[EXPIRY_MS]) > now_ms()

    def delete(self, session_id: str) -> None:
        self._remove(session_id)

    def delete_for_user(self, username: str) -> int:
        upk, _ = self._user_key(username, "")
        entries = self._t.query(partition=upk, sk_prefix="SESSION#", newest_first=False).items
        removed = 0
        for entry in entries:
            old = self._t.delete(self._pk(entry["id"]), "SESSION")
            if old is not None and old["username"] == username and int(old[EXPIRY_MS]) > now_ms():
                removed += 1
        self._t.delete_many((e[PK], e[SK]) for e in entries)
        return removed


class DynamoCounters:
    """Fixed-window counters.

    `add` first tries ADD on a live counter (condition: not expired). If there
    is none, or it has expired, it starts a new window with a PutItem that is
    conditional on the old one still being absent or expired; if another
    process started the window in between, that put fails and the loop adds to
    the new window instead. So an expired window's count never leaks into the
    next one, and two first adds never overwrite each other.
    """

    _ATTEMPTS = 10

    def __init__(self, table: Table) -> None:
        self._t = table

    @staticmethod
    def _pk(key: str) -> str:
        return f"COUNTER#{key}"

    def add(self, key: str, amount: int, *, ttl_s: int) -> int:
        if ttl_s <= 0:
            raise ValueError(f"counter ttl_s must be positive, not {ttl_s}")
        names = {"#x": EXPIRY_MS}
        for _ in range(self._ATTEMPTS):
            now = now_ms()
            try:
                item = self._t.update(
                    self._pk(key),
                    "COUNTER",
                    update="ADD #n :a",
                    condition="#x > :now",
                    names={**names, "#n": "total"},
                    values={":a": amount, ":now": now},
                )
                return int(item["total"])
            except ConditionFailed:
                pass
            fresh = {
                PK: self._pk(key),
                SK: "COUNTER",
                "entity": "counter",
                "key": key,
                "total": amount,
                "window_start": iso(utcnow()),
                **expiry_attrs(now + ttl_s * 1000),
            }
            try:
                self._t.put(
                    fresh, condition="attribute_not_exists(PK) OR #x <= :now", names=names, values={":now": now}
                )
                return amount
            except ConditionFailed:
                continue
        raise VersionConflict(f"counter {key!r} kept changing; try again")

    def get(self, key: str) -> int:
        i = self._t.get(self._pk(key), "COUNTER")
        if i is None or int(i[EXPIRY_MS]) <= now_ms():
            return 0
        return int(i["total"])

    def reset(self, key: str) -> None:
        self._t.delete(self._pk(key), "COUNTER")


class DynamoFallbacks:
    """One item per user, with the TTL attribute: DynamoDB sweeps expired ones, reads check expiry now."""

    def __init__(self, table: Table) -> None:
        self._t = table

    @staticmethod
    def _pk(username: str) -> str:
        return f"FALLBACK#{username}"

    def put(self, fallback: PasswordFallback) -> None:
        item = {
            PK: self._pk(fallback.username),
            SK: "FALLBACK",
            "entity": "password_fallback",
            **codecs.FALLBACKS.dump(fallback),
            **expiry_attrs(epoch_ms(fallback.expires_at)),
        }
        self._t.put(item)

    def get(self, username: str) -> PasswordFallback:
        i = self._t.get(self._pk(username), "FALLBACK")
        if i is None or int(i[EXPIRY_MS]) <= now_ms():
            raise NotFound(f"no migration record for {username!r}, or it has expired")
        return codecs.FALLBACKS.load(i)

    def delete(self, username: str) -> bool:
        old = self._t.delete(self._pk(username), "FALLBACK")
        return old is not None and int(old[EXPIRY_MS]) > now_ms()
