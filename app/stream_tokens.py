"""Player stream tokens: `{item_id}.{sig}` in `{PUBLIC_URL}/s/{token}.mp3`.

A Yoto player fetches a card's track URL with no cookie and no header we
control, so the URL itself must carry the proof. The signature covers the item
id under a key mixed from the app's stream key and the item's own
`stream_key`; rotating the item's `stream_key` therefore revokes every URL
handed out for it, without touching any other item.
"""

from __future__ import annotations

import hashlib
import hmac

from app.signing import sign, verify
from core.records import AudioItem


def _item_key(stream_key: bytes, item: AudioItem) -> bytes:
    return hmac.new(stream_key, item.stream_key.encode(), hashlib.sha256).digest()


def make_token(stream_key: bytes, item: AudioItem) -> str:
    return f"{item.id}.{sign(_item_key(stream_key, item), item.id)}"


def split_token(token: str) -> tuple[str, str] | None:
    """(item_id, sig), or None when the token is not even shaped right."""
    item_id, dot, sig = token.rpartition(".")
    if not dot or not item_id or not sig or len(token) > 200:
        return None
    return item_id, sig


def token_matches(stream_key: bytes, item: AudioItem, sig: str) -> bool:
    return verify(_item_key(stream_key, item), item.id, sig)


def stream_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{token}.mp3"
