"""Player state and player events in the DynamoDB table.

Player events arrive as partial documents, often from several MQTT topics at
once, so the merged state must never be rebuilt by read-modify-write. Each
state key is its own attribute (`st:<key>`, the value as JSON text) and a merge
is one UpdateItem that SETs only the changed keys: concurrent merges of
different keys cannot lose each other, and the first merge creates the item.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from adapters.aws import dynamo_codecs as codecs
from adapters.aws.dynamo_table import EXPIRY_MS, PK, SK, Table, epoch_ms, expiry_attrs, iso, now_ms
from adapters.keyset import check_limit
from core.errors import NotFound
from core.records import Page, PlayerEvent, PlayerState, utcnow

STATE_PREFIX = "st:"
PLAYERS_PARTITION = "PLAYERS"
# Keys per UpdateItem: keeps the expression well under DynamoDB's 4 KB limit.
_KEYS_PER_UPDATE = 100


def player_pk(player_id: str) -> str:
    return f"PLAYER#{player_id}"


def _state_from_item(item: dict[str, Any]) -> PlayerState:
    state = {k[len(STATE_PREFIX) :]: json.loads(v) for k, v in item.items() if k.startswith(STATE_PREFIX)}
    return codecs.PLAYER_STATES.load(item, state=state)


class DynamoPlayers:
    def __init__(self, table: Table) -> None:
        self._t = table

    def merge_state(self, player_id: str, changes: dict[str, Any]) -> PlayerState:
        encoded: list[tuple[str, str]] = []
        for key, value in changes.items():
            try:
                encoded.append((STATE_PREFIX + str(key), json.dumps(value, allow_nan=False)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"player state key {key!r} must hold a JSON value: {exc}") from exc
        chunks = [encoded[i : i + _KEYS_PER_UPDATE] for i in range(0, len(encoded), _KEYS_PER_UPDATE)] or [[]]
        item: dict[str, Any] = {}
        for chunk in chunks:
            names = {f"#a{n}": attr for n, (attr, _) in enumerate(chunk)}
            values: dict[str, Any] = {f":v{n}": text for n, (_, text) in enumerate(chunk)}
            values.update({":g": PLAYERS_PARTITION, ":id": player_id, ":now": iso(utcnow())})
            sets = ["GSI1PK = :g", "GSI1SK = :id", "player_id = :id", "entity = :e", "updated_at = :now"]
            values[":e"] = "player"
            sets += [f"#a{n} = :v{n}" for n in range(len(chunk))]
            item = self._t.update(
                player_pk(player_id), "STATE", update="SET " + ", ".join(sets), names=names or None, values=values
            )
        return _state_from_item(item)

    def get_state(self, player_id: str) -> PlayerState:
        item = self._t.get(player_pk(player_id), "STATE")
        if item is None:
            raise NotFound(f"no state for player {player_id!r}")
        return _state_from_item(item)

    def list_states(self) -> list[PlayerState]:
        res = self._t.query(partition=PLAYERS_PARTITION, index="GSI1", newest_first=False)
        return [_state_from_item(i) for i in res.items]

    def add_event(self, event: PlayerEvent, *, keep_s: int = 7 * 24 * 3600) -> None:
        self._t.put(self._event_item(event, keep_s))

    def add_events(self, events: list[PlayerEvent], *, keep_s: int = 7 * 24 * 3600) -> None:
        """BatchWriteItem, 25 at a time (unprocessed items retried by the table)."""
        items = [self._event_item(event, keep_s) for event in events]
        if items:
            self._t.put_many(items)

    @staticmethod
    def _event_item(event: PlayerEvent, keep_s: int) -> dict[str, Any]:
        fields = codecs.PLAYER_EVENTS.dump(event)
        expires = epoch_ms(utcnow() + timedelta(seconds=keep_s))
        return {
            PK: player_pk(event.player_id),
            # the random suffix keeps two events of the same microsecond apart
            SK: f"EVENT#{iso(event.at)}#{secrets.token_hex(4)}",
            "entity": "player_event",
            **fields,
            **expiry_attrs(expires),
        }

    def recent_events(self, player_id: str, *, limit: int = 50) -> list[PlayerEvent]:
        res = self._t.query(
            partition=player_pk(player_id),
            sk_prefix="EVENT#",
            filter="#x > :now",
            names={"#x": EXPIRY_MS},
            values={":now": now_ms()},
            limit=limit,
        )
        return [codecs.PLAYER_EVENTS.load(i) for i in res.items]

    def events_since(
        self, player_id: str, since: datetime, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[PlayerEvent]:
        """One Query over the sort-key range `EVENT#<since>` … (ISO times sort as text)."""
        check_limit(limit)
        res = self._t.query(
            partition=player_pk(player_id),
            sk_between=(f"EVENT#{iso(since)}", "EVENT#~"),
            newest_first=False,
            filter="#x > :now",
            names={"#x": EXPIRY_MS},
            values={":now": now_ms()},
            limit=limit,
            cursor=cursor,
        )
        return Page([codecs.PLAYER_EVENTS.load(i) for i in res.items], res.next_cursor)
