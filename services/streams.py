"""Player stream tokens: `{item_id}.{sig}` in `{PUBLIC_URL}/s/{token}.mp3`, and
where a valid token's bytes are.

A Yoto player fetches a card's track URL with no cookie and no header we
control, so the URL itself must carry the proof. The signature covers the item
id under a key mixed from the app's stream key and the item's own
`stream_key`; rotating the item's `stream_key` therefore revokes every URL
handed out for it, without touching any other item.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from core.errors import Forbidden, NotFound
from core.ports import AudioRepository, AudioStorage
from core.records import AudioItem
from services.signing import sign, verify

FORBIDDEN = "invalid or revoked stream link"
MAX_TOKEN_CHARS = 200
MAX_URL_TTL_S = 900


def _item_key(stream_key: bytes, item: AudioItem) -> bytes:
    return hmac.new(stream_key, item.stream_key.encode(), hashlib.sha256).digest()


def make_token(stream_key: bytes, item: AudioItem) -> str:
    return f"{item.id}.{sign(_item_key(stream_key, item), item.id)}"


def split_token(token: str) -> tuple[str, str] | None:
    """(item_id, sig), or None when the token is not even shaped right."""
    item_id, dot, sig = token.rpartition(".")
    if not dot or not item_id or not sig or len(token) > MAX_TOKEN_CHARS:
        return None
    return item_id, sig


def token_matches(stream_key: bytes, item: AudioItem, sig: str) -> bool:
    return verify(_item_key(stream_key, item), item.id, sig)


def stream_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{token}.mp3"


def url_for(public_url: str, stream_key: bytes, item: AudioItem) -> str:
    return stream_url(public_url, make_token(stream_key, item))


def item_id_of_url(public_url: str, url: str | None) -> str | None:
    """The item id a stream URL of ours names (its signature unchecked); None for any other URL."""
    prefix = stream_url(public_url, "")[: -len(".mp3")]
    if not url or not url.startswith(prefix) or not url.endswith(".mp3"):
        return None
    parts = split_token(url[len(prefix) : -len(".mp3")])
    return parts[0] if parts else None


@dataclass(frozen=True)
class StreamSource:
    """Where a player gets the bytes: a file on this machine, or a short-lived URL."""

    path: Path | None = None
    url: str | None = None


def resolve(
    audio: AudioRepository, storage: AudioStorage, stream_key: bytes, token: str, *, url_ttl_s: int
) -> StreamSource:
    """The bytes behind a token; `Forbidden` for a bad, forged or revoked one
    (the same answer for an unknown id: a token must not reveal which exist)."""
    parts = split_token(token)
    if parts is None:
        raise Forbidden(FORBIDDEN)
    item_id, sig = parts
    try:
        item = audio.get(item_id)
    except NotFound:
        raise Forbidden(FORBIDDEN) from None
    if not token_matches(stream_key, item, sig):
        raise Forbidden(FORBIDDEN)
    path = storage.local_path(item.storage_key)
    if path is not None:
        if not path.is_file():
            raise NotFound("the audio file is missing")
        return StreamSource(path=path)
    return StreamSource(url=storage.download_url(item.storage_key, expires_s=min(url_ttl_s, MAX_URL_TTL_S)))
