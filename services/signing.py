"""Short URL-safe HMAC-SHA256 signatures, compared in constant time, and the
per-purpose keys the app signs with.

Each use (session cookies, player stream tokens) gets its own key derived from
the one session secret, so a signature made for one purpose is useless for
another. The secret itself is an adapter's business (`adapters.secret`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

SIG_BYTES = 16  # 128 bits: plenty against forgery, short enough for a URL


@dataclass(frozen=True)
class Keys:
    cookie: bytes
    stream: bytes


def sign(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()[:SIG_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes, message: str, signature: str) -> bool:
    # bytes: compare_digest raises on a non-ASCII str, which a forged cookie may carry
    return hmac.compare_digest(sign(key, message).encode(), signature.encode("utf-8", "surrogatepass"))
