"""Playlists and cards in the DynamoDB table, with their audio references.

"Which playlists (cards) use this audio item?" has no key to ask by, and a
Scan is neither allowed nor cheap, so every playlist and card writes one
reference item per distinct audio id it holds, under the audio id's partition
(`USES#AUDIO#<audio id>`). The references are written in the same transaction
as the record, guarded by the record's version, so they never lag behind it.

A record with more distinct audio ids than one transaction can hold (100
writes) falls back to writing the new references first and the record second;
references it no longer needs are then left behind rather than risk deleting
one a concurrent writer has just added. `using_audio` therefore checks each
reference against the record before it reports it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Generic, TypeVar

from adapters.aws import dynamo_codecs as codecs
from adapters.aws.dynamo_table import (
    MAX_TRANSACTION_ITEMS,
    PK,
    SK,
    ConditionFailed,
    Table,
    TransactionCancelled,
    iso,
)
from core.errors import AlreadyExists, NotFound, VersionConflict
from core.records import Card, Page, Playlist, saved_fields, utcnow

R = TypeVar("R", Playlist, Card)


class _Raced(Exception):
    """Another card update won the race; read again and retry."""


_NEW = "attribute_not_exists(PK)"


def uses_partition(audio_id: str) -> str:
    return f"USES#AUDIO#{audio_id}"


class _Collection(Generic[R]):
    """What playlists and cards share: keys, listings, and reference upkeep."""

    kind: str  # "PLAYLIST" | "CARD"
    label: str  # for messages

    def __init__(self, table: Table) -> None:
        self._t = table

    # subclasses turn records into items and back
    def _to_item(self, record: R, rev: int) -> dict[str, Any]:
        raise NotImplementedError

    def _from_item(self, item: dict[str, Any]) -> R:
        raise NotImplementedError

    def _pk(self, record_id: str) -> str:
        return f"{self.kind}#{record_id}"

    def _keys(self, record: R) -> dict[str, Any]:
        """The record's key, index keys and entity; the fields come from its codec."""
        order = f"{iso(record.created_at)}#{record.id}"
        return {
            PK: self._pk(record.id),
            SK: self.kind,
            "GSI1PK": self.kind,
            "GSI1SK": order,
            "GSI2PK": f"OWNER#{record.owner}#{self.kind}",
            "GSI2SK": order,
            "entity": self.kind.lower(),
        }

    def _ref_key(self, audio_id: str, record_id: str) -> tuple[str, str]:
        return uses_partition(audio_id), f"{self.kind}#{record_id}"

    def _ref_item(self, audio_id: str, record_id: str) -> dict[str, Any]:
        pk, sk = self._ref_key(audio_id, record_id)
        return {PK: pk, SK: sk, "entity": "uses", "audio_id": audio_id, "ref_id": record_id}

    def _read(self, record_id: str) -> dict[str, Any]:
        found = self._t.get(self._pk(record_id), self.kind)
        if found is None:
            raise NotFound(f"{self.label} {record_id!r} not found")
        return found

    # ---------------------------------------------------------------- shared operations

    def get(self, record_id: str) -> R:
        return self._from_item(self._read(record_id))

    def list(self, *, owner: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[R]:
        if owner is not None:
            res = self._t.query(partition=f"OWNER#{owner}#{self.kind}", index="GSI2", limit=limit, cursor=cursor)
        else:
            res = self._t.query(partition=self.kind, index="GSI1", limit=limit, cursor=cursor)
        return Page([self._from_item(i) for i in res.items], res.next_cursor)

    def using_audio(self, audio_id: str) -> list[str]:
        refs = self._t.query(partition=uses_partition(audio_id), sk_prefix=f"{self.kind}#", newest_first=False)
        used: list[str] = []
        for ref in refs.items:
            found = self._t.get(self._pk(ref["ref_id"]), self.kind)
            if found is not None and audio_id in found.get("audio_ids", []):
                used.append(ref["ref_id"])
        return used

    def _write(
        self,
        item: dict[str, Any],
        *,
        old_ids: Sequence[str],
        condition: dict[str, Any],
        on_condition_failed: Callable[[], Exception],
    ) -> None:
        """Write the record and bring its references in line, atomically when it fits one transaction."""
        record_id = item["id"]
        new_ids = list(dict.fromkeys(item.get("audio_ids", [])))
        old_set, new_set = set(old_ids), set(new_ids)
        added = [a for a in new_ids if a not in old_set]
        removed = [a for a in dict.fromkeys(old_ids) if a not in new_set]
        if 1 + len(added) + len(removed) <= MAX_TRANSACTION_ITEMS:
            actions = [self._t.put_action(item, **condition)]
            actions += [self._t.put_action(self._ref_item(a, record_id)) for a in added]
            actions += [self._t.delete_action(*self._ref_key(a, record_id)) for a in removed]
            try:
                self._t.transact(actions)
            except TransactionCancelled as exc:
                if 0 in exc.condition_failed:
                    raise on_condition_failed() from None
                raise
            return
        self._t.put_many([self._ref_item(a, record_id) for a in added])
        try:
            self._t.put(item, **condition)
        except ConditionFailed:
            raise on_condition_failed() from None

    def _add(self, item: dict[str, Any]) -> None:
        record_id = item["id"]
        self._write(
            item,
            old_ids=(),
            condition={"condition": _NEW},
            on_condition_failed=lambda: AlreadyExists(f"{self.label} {record_id!r} already exists"),
        )

    def delete(self, record_id: str) -> None:
        stored = self._read(record_id)
        ids = list(dict.fromkeys(stored.get("audio_ids", [])))
        guard = {"condition": "attribute_exists(PK)"}
        if 1 + len(ids) <= MAX_TRANSACTION_ITEMS:
            actions = [self._t.delete_action(self._pk(record_id), self.kind, **guard)]
            actions += [self._t.delete_action(*self._ref_key(a, record_id)) for a in ids]
            try:
                self._t.transact(actions)
            except TransactionCancelled as exc:
                if 0 in exc.condition_failed:
                    raise NotFound(f"{self.label} {record_id!r} not found") from None
                raise
            return
        try:
            self._t.delete(self._pk(record_id), self.kind, **guard)
        except ConditionFailed:
            raise NotFound(f"{self.label} {record_id!r} not found") from None
        self._t.delete_many(self._ref_key(a, record_id) for a in ids)


class DynamoPlaylists(_Collection[Playlist]):
    kind = "PLAYLIST"
    label = "playlist"

    def _to_item(self, record: Playlist, rev: int) -> dict[str, Any]:
        return {**self._keys(record), **codecs.PLAYLISTS.dump(record)}

    def _from_item(self, item: dict[str, Any]) -> Playlist:
        return codecs.PLAYLISTS.load(item)

    def add(self, playlist: Playlist) -> None:
        self._add(self._to_item(playlist, 1))

    def save(self, playlist: Playlist, *, expected_version: int) -> Playlist:
        stored = self._at(playlist.id, expected_version)
        changed = replace(stored, **{**saved_fields(playlist), "audio_ids": tuple(playlist.audio_ids)})
        return self._swap(stored, changed, expected_version)

    def give(self, playlist_id: str, owner: str, *, expected_version: int) -> Playlist:
        stored = self._at(playlist_id, expected_version)
        return self._swap(stored, replace(stored, owner=owner), expected_version)

    def _at(self, playlist_id: str, expected_version: int) -> Playlist:
        stored = self._from_item(self._read(playlist_id))
        if stored.version != expected_version:
            raise VersionConflict(f"playlist {playlist_id!r} is at version {stored.version}, not {expected_version}")
        return stored

    def _swap(self, stored: Playlist, changed: Playlist, expected_version: int) -> Playlist:
        """Write `changed` as version + 1 while the stored one is at `expected_version`."""
        new = replace(changed, version=expected_version + 1, updated_at=utcnow())

        def lost() -> Exception:
            if self._t.get(self._pk(stored.id), self.kind) is None:
                return NotFound(f"playlist {stored.id!r} not found")
            return VersionConflict(f"playlist {stored.id!r} changed since version {expected_version}")

        self._write(
            self._to_item(new, 0),
            old_ids=stored.audio_ids,
            condition={"condition": "version = :v", "values": {":v": expected_version}},
            on_condition_failed=lost,
        )
        return new


class DynamoCards(_Collection[Card]):
    """Cards have no version of their own; an internal `rev` keeps a card's
    references in step with it when two updates race (the later one retries)."""

    kind = "CARD"
    label = "card"
    _RETRIES = 20

    def _to_item(self, record: Card, rev: int) -> dict[str, Any]:
        return {**self._keys(record), **codecs.CARDS.dump(record), "rev": rev}

    def _from_item(self, item: dict[str, Any]) -> Card:
        return codecs.CARDS.load(item)

    def add(self, card: Card) -> None:
        self._add(self._to_item(card, 1))

    def update(self, card: Card) -> Card:
        for attempt in range(self._RETRIES):
            raw = self._read(card.id)
            stored = self._from_item(raw)
            rev = int(raw.get("rev", 0))
            # every field but the card's identity and creation is the caller's
            new = replace(
                card,
                owner=stored.owner,
                created_at=stored.created_at,
                audio_ids=tuple(card.audio_ids),
                updated_at=utcnow(),
            )

            try:
                self._write(
                    self._to_item(new, rev + 1),
                    old_ids=stored.audio_ids,
                    condition={"condition": "#rev = :r", "names": {"#rev": "rev"}, "values": {":r": rev}},
                    on_condition_failed=_Raced,
                )
            except _Raced:
                # someone else's update won this round; back off a little so racers spread out
                time.sleep(random.uniform(0.0, 0.02) * (attempt + 1))
                continue
            return new
        raise VersionConflict(f"card {card.id!r} kept changing during the update; try again")
