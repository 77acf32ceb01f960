"""Short URL-safe HMAC-SHA256 signatures, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac

SIG_BYTES = 16  # 128 bits: plenty against forgery, short enough for a URL


def sign(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()[:SIG_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes, message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(key, message), signature)
