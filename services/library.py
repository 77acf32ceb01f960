"""The family audio library: list, read, rename, delete, the storage quota,
and the player stream URL of an item.

The library is shared by the family: every signed-in member sees every item,
but only the owner or an admin may rename, delete or revoke an item's stream
URLs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import Conflict, Invalid, InvalidCursor
from core.ports import AudioRepository, AudioStorage, CardRepository, PlaylistRepository
from core.records import AudioItem, Page, User
from services import access, streams

T = TypeVar("T")


@dataclass(frozen=True)
class LibraryPorts:
    """What deleting an item touches: its record, its object, and what uses it."""

    audio: AudioRepository
    playlists: PlaylistRepository
    cards: CardRepository
    storage: AudioStorage


def paged(fetch: Callable[[], Page[T]]) -> Page[T]:
    """A repository listing; a cursor we did not hand out is `InvalidCursor`."""
    try:
        return fetch()
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise InvalidCursor("invalid cursor") from None


def list_items(
    audio: AudioRepository, *, owner: str | None, query: str | None, limit: int, cursor: str | None
) -> Page[AudioItem]:
    """Newest first; a cursor we did not hand out is `InvalidCursor`."""
    return paged(lambda: audio.list(owner=owner, query=query or None, limit=limit, cursor=cursor))


def get_item(audio: AudioRepository, item_id: str) -> AudioItem:
    return access.found(audio.get, "audio item", item_id)


def _may_change(user: User, item: AudioItem) -> None:
    access.may_change(user, item.owner, "item")


def rename(audio: AudioRepository, user: User, item_id: str, title: str) -> AudioItem:
    title = title.strip()
    if not title:
        raise Invalid("title must not be empty")
    _may_change(user, get_item(audio, item_id))
    return audio.update(item_id, title=title)


def delete(ports: LibraryPorts, user: User, item_id: str, *, force: bool = False) -> None:
    """Removes the record, then the object. While playlists or cards use the
    item it is a `Conflict` naming them, unless `force`."""
    item = get_item(ports.audio, item_id)
    _may_change(user, item)
    remove(ports, item, force=force)


def remove(ports: LibraryPorts, item: AudioItem, *, force: bool) -> None:
    """Delete an item without the permission check (the caller made it)."""
    used_by_playlists = ports.playlists.using_audio(item.id)
    used_by_cards = ports.cards.using_audio(item.id)
    if (used_by_playlists or used_by_cards) and not force:
        raise Conflict(
            f"the item is used by {len(used_by_playlists)} playlist(s) and {len(used_by_cards)} card(s);"
            " delete with ?force=true to remove it anyway",
            playlists=used_by_playlists,
            cards=used_by_cards,
        )
    # Record first: a failure after it leaves an orphan object, never a record
    # pointing at nothing.
    ports.audio.delete(item.id)
    ports.storage.delete(item.storage_key)


def stream_url(audio: AudioRepository, stream_key: bytes, public_url: str, item_id: str) -> str:
    """The cookie-free URL a Yoto card holds for this item; stable until rotated."""
    return streams.url_for(public_url, stream_key, get_item(audio, item_id))


def rotate_stream_url(audio: AudioRepository, stream_key: bytes, public_url: str, user: User, item_id: str) -> str:
    """Revoke every stream URL handed out for the item and return the new one."""
    _may_change(user, get_item(audio, item_id))
    item = audio.update(item_id, stream_key=secrets.token_urlsafe(16))
    return streams.url_for(public_url, stream_key, item)


@dataclass(frozen=True)
class StorageUse:
    items: int
    used_bytes: int
    quota_bytes: int

    @property
    def left_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used_bytes)


def storage_use(audio: AudioRepository, owner: str, quota_bytes: int) -> StorageUse:
    usage = audio.usage(owner)
    return StorageUse(items=usage.items, used_bytes=usage.bytes, quota_bytes=quota_bytes)
