"""Audio items and pending uploads in the DynamoDB table.

Audio items sit in two overloaded indexes so both listings are a single Query
in creation order: GSI1 holds every item under one partition (a family library
is small, so one partition is no hot spot), GSI2 one partition per owner.
"""

from __future__ import annotations

from typing import Any

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
    parse_iso,
)
from core.errors import AlreadyExists, NotFound
from core.records import AudioItem, Page, PendingUpload

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
        "id": a.id,
        "owner": a.owner,
        "title": a.title,
        "title_lc": a.title.lower(),
        "storage_key": a.storage_key,
        "size_bytes": a.size_bytes,
        "duration_s": float(a.duration_s),
        "format": a.format,
        "stream_key": a.stream_key,
        "source": a.source,
        "created_at": iso(a.created_at),
    }


def _audio_from_item(i: dict[str, Any]) -> AudioItem:
    return AudioItem(
        id=i["id"],
        owner=i["owner"],
        title=i["title"],
        storage_key=i["storage_key"],
        size_bytes=int(i["size_bytes"]),
        duration_s=float(i["duration_s"]),
        format=i["format"],
        stream_key=i["stream_key"],
        source=i["source"],
        created_at=parse_iso(i["created_at"]),
    )


class DynamoAudio:
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
        return _audio_from_item(found)

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
        return Page([_audio_from_item(i) for i in res.items], res.next_cursor)

    def update(self, item_id: str, *, title: str | None = None, stream_key: str | None = None) -> AudioItem:
        sets: list[str] = []
        values: dict[str, Any] = {}
        if title is not None:
            sets += ["title = :t", "title_lc = :tl"]
            values.update({":t": title, ":tl": title.lower()})
        if stream_key is not None:
            sets.append("stream_key = :k")
            values[":k"] = stream_key
        if not sets:
            return self.get(item_id)
        try:
            new = self._t.update(
                audio_pk(item_id), "AUDIO", update="SET " + ", ".join(sets), condition=_EXISTS, values=values
            )
        except ConditionFailed:
            raise NotFound(f"audio item {item_id!r} not found") from None
        return _audio_from_item(new)

    def delete(self, item_id: str) -> None:
        try:
            self._t.delete(audio_pk(item_id), "AUDIO", condition=_EXISTS)
        except ConditionFailed:
            raise NotFound(f"audio item {item_id!r} not found") from None


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
            "id": upload.id,
            "owner": upload.owner,
            "storage_key": upload.storage_key,
            "title": upload.title,
            "filename": upload.filename,
            "max_bytes": upload.max_bytes,
            "created_at": iso(upload.created_at),
            "expires_at": iso(upload.expires_at),
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
        return PendingUpload(
            id=i["id"],
            owner=i["owner"],
            storage_key=i["storage_key"],
            title=i.get("title"),
            filename=i.get("filename"),
            max_bytes=int(i["max_bytes"]),
            created_at=parse_iso(i["created_at"]),
            expires_at=parse_iso(i["expires_at"]),
        )

    def delete(self, upload_id: str) -> None:
        self._t.delete(_upload_pk(upload_id), "UPLOAD")
