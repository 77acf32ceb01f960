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
import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import Forbidden, NotFound
from core.ports import AudioRepository, AudioStorage
from core.records import AudioItem
from services.signing import sign, verify

FORBIDDEN = "invalid or revoked stream link"
MAX_TOKEN_CHARS = 200
MAX_URL_TTL_S = 900
ITEM_KEYS_CACHED = 4096  # a family library is far smaller; the bound only caps memory
# An item id (letters and digits) and a URL-safe base64 signature: nothing else is ever ours.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@lru_cache(maxsize=ITEM_KEYS_CACHED)
def item_key(app_stream_key: bytes, item_stream_key: str) -> bytes:
    """The key an item's tokens are signed with. Cached by both inputs, so a
    rotated `stream_key` is simply a different entry: the cache can never
    vouch for a revoked link (the current `stream_key` is read on every request)."""
    return hmac.new(app_stream_key, item_stream_key.encode(), hashlib.sha256).digest()


def make_token(stream_key: bytes, item: AudioItem) -> str:
    return f"{item.id}.{sign(item_key(stream_key, item.stream_key), item.id)}"


def split_token(token: str) -> tuple[str, str] | None:
    """(item_id, sig), or None when the token is not even shaped right (any
    character outside the token alphabet: no lookup is made for it)."""
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN.fullmatch(token):
        return None
    item_id, _, sig = token.rpartition(".")
    return item_id, sig


def token_matches(stream_key: bytes, item_id: str, item_stream_key: str, sig: str) -> bool:
    return verify(item_key(stream_key, item_stream_key), item_id, sig)


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
    """Where a player gets the bytes: a file on this machine (with the `stat`
    taken while checking it, so the response need not take another), or a
    short-lived URL."""

    path: Path | None = None
    stat: os.stat_result | None = None
    url: str | None = None


def resolve(
    audio: AudioRepository, storage: AudioStorage, stream_key: bytes, token: str, *, url_ttl_s: int
) -> StreamSource:
    """The bytes behind a token; `Forbidden` for a bad, forged or revoked one
    (the same answer for an unknown id: a token must not reveal which exist).

    One narrow record read (`stream_ref`) and one HMAC with a cached key; locally
    one `stat` of the file, on S3 a presigned URL (computed, no round trip)."""
    parts = split_token(token)
    if parts is None:
        raise Forbidden(FORBIDDEN)
    item_id, sig = parts
    try:
        ref = audio.stream_ref(item_id)
    except NotFound:
        raise Forbidden(FORBIDDEN) from None
    if not token_matches(stream_key, item_id, ref.stream_key, sig):
        raise Forbidden(FORBIDDEN)
    path = storage.local_path(ref.storage_key)
    if path is not None:
        try:
            found = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            found = None
        if found is None or not stat.S_ISREG(found.st_mode):
            raise NotFound("the audio file is missing")
        return StreamSource(path=path, stat=found)
    return StreamSource(url=storage.download_url(ref.storage_key, expires_s=min(url_ttl_s, MAX_URL_TTL_S)))
