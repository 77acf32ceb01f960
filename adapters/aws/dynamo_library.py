"""Audio items and pending uploads in the DynamoDB table.

Audio items sit in two overloaded indexes so both listings are a single Query
in creation order: GSI1 holds every item under one partition (a family library
is small, so one partition is no hot spot), GSI2 one partition per owner.
"""

from __future__ import annotations

from typing import Any

from adapters.aws import dynamo_codecs as codecs
from adapters.aws.dynamo_table import (
    EXPIRY_MS,
    PK,
    SK,
    ConditionFailed,
    Table,
    epoch_ms,
    expiry_attrs,
    iso,
    now_ms,
)
from core.codec import given
from core.errors import AlreadyExists, NotFound
from core.records import AudioItem, Page, PendingUpload, StreamRef, Usage

AUDIO_ALL = "AUDIO"
_NEW = "attribute_not_exists(PK)"
_EXISTS = "attribute_exists(PK)"


def audio_pk(item_id: str) -> str:
    return f"AUDIO#{item_id}"


def audio_owner_partition(owner: str) -> str:
    return f"OWNER#{owner}#AUDIO"


def _audio_to_item(a: AudioItem) -> dict[str, Any]:
    order = f"{iso(a.created_at)}#{a.id}"
    return {
        PK: audio_pk(a.id),
        SK: "AUDIO",
        "GSI1PK": AUDIO_ALL,
        "GSI1SK": order,
        "GSI2PK": audio_owner_partition(a.owner),
        "GSI2SK": order,
        "entity": "audio",
        **codecs.AUDIO.dump(a),
        "title_lc": a.title.lower(),
    }


def _audio_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The attributes an update of some audio fields sets, index helpers included."""
    attrs = codecs.AUDIO.dump_values(**changes)
    if "title" in changes:
        attrs["title_lc"] = changes["title"].lower()
    if "owner" in changes:
        attrs["GSI2PK"] = audio_owner_partition(changes["owner"])
    return attrs


class DynamoAudio:
    reads_locally = False  # every read is a round trip to DynamoDB

    def __init__(self, table: Table) -> None:
        self._t = table

    def add(self, item: AudioItem) -> None:
        try:
            self._t.put(_audio_to_item(item), condition=_NEW)
        except ConditionFailed:
            raise AlreadyExists(f"audio item {item.id!r} already exists") from None

    def get(self, item_id: str) -> AudioItem:
        found = self._t.get(audio_pk(item_id), "AUDIO")
        if found is None:
            raise NotFound(f"audio item {item_id!r} not found")
        return codecs.AUDIO.load(found)

    def stream_ref(self, item_id: str) -> StreamRef:
        found = self._t.get(audio_pk(item_id), "AUDIO", attributes=("stream_key", "storage_key"))
        if found is None:
            raise NotFound(f"audio item {item_id!r} not found")
        return StreamRef(stream_key=found["stream_key"], storage_key=found["storage_key"])

    def list(
        self,
        *,
        owner: str | None = None,
        query: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AudioItem]:
        index, partition = ("GSI2", audio_owner_partition(owner)) if owner is not None else ("GSI1", AUDIO_ALL)
        search: dict[str, Any] = {}
        if query:
            search = {"filter": "contains(#tl, :q)", "names": {"#tl": "title_lc"}, "values": {":q": query.lower()}}
        res = self._t.query(partition=partition, index=index, limit=limit, cursor=cursor, **search)
        return Page([codecs.AUDIO.load(i) for i in res.items], res.next_cursor)

    def update(
        self,
        item_id: str,
        *,
        title: str | None = None,
        stream_key: str | None = None,
        owner: str | None = None,
    ) -> AudioItem:
        changes = given(title=title, stream_key=stream_key, owner=owner)
        if not changes:
            return self.get(item_id)
        attrs = _audio_changes(changes)
        names = {f"#a{n}": name for n, name in enumerate(attrs)}
        values = {f":v{n}": value for n, value in enumerate(attrs.values())}
        update = "SET " + ", ".join(f"#a{n} = :v{n}" for n in range(len(attrs)))
        try:
            new = self._t.update(
                audio_pk(item_id), "AUDIO", update=update, condition=_EXISTS, names=names, values=values
            )
        except ConditionFailed:
            raise NotFound(f"audio item {item_id!r} not found") from None
        return codecs.AUDIO.load(new)

    def delete(self, item_id: str) -> None:
        try:
            self._t.delete(audio_pk(item_id), "AUDIO", condition=_EXISTS)
        except ConditionFailed:
            raise NotFound(f"audio item {item_id!r} not found") from None

    def usage(self, owner: str) -> Usage:
        """Summed over the owner's GSI2 partition: eventually consistent (docs/dynamodb.md)."""
        items = self._t.query(partition=audio_owner_partition(owner), index="GSI2").items
        return Usage(items=len(items), bytes=sum(int(i["size_bytes"]) for i in items))


def _upload_pk(upload_id: str) -> str:
    return f"UPLOAD#{upload_id}"


class DynamoUploads:
    """Pending uploads carry the TTL attribute; DynamoDB sweeps them eventually, reads check expiry now."""

    def __init__(self, table: Table) -> None:
        self._t = table

    def add(self, upload: PendingUpload) -> None:
        item = {
            PK: _upload_pk(upload.id),
            SK: "UPLOAD",
            "entity": "upload",
            **codecs.UPLOADS.dump(upload),
            **expiry_attrs(epoch_ms(upload.expires_at)),
        }
        try:
            self._t.put(item, condition=_NEW)
        except ConditionFailed:
            raise AlreadyExists(f"upload {upload.id!r} already exists") from None

    def get(self, upload_id: str) -> PendingUpload:
        i = self._t.get(_upload_pk(upload_id), "UPLOAD")
        if i is None or int(i[EXPIRY_MS]) <= now_ms():
            raise NotFound(f"upload {upload_id!r} not found or expired")
        return codecs.UPLOADS.load(i)

    def delete(self, upload_id: str) -> None:
        self._t.delete(_upload_pk(upload_id), "UPLOAD")
