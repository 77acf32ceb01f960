"""Listing helpers the SQLite and the in-memory records share: keyset paging
on (created_at, id), newest first, and the folded form titles are searched in.

A cursor names the last row handed out, so rows added meanwhile neither repeat
nor push others out, and a page boundary inside a run of equal timestamps
neither repeats nor skips a row (the id breaks the tie).
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata

# A cursor's time must fit SQLite's 64-bit integer: a larger one is not ours.
_MAX_US = 2**63 - 1


def encode_cursor(created_us: int, record_id: str) -> str:
    raw = json.dumps([created_us, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (created_at, id) position a page ended at; ValueError for anything we did not issue
    (also for a huge number or a deeply nested document, which would otherwise overflow)."""
    invalid = ValueError(f"invalid paging cursor {cursor[:40]!r}")
    if len(cursor) > 512:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_us, record_id = json.loads(raw)
    except (ValueError, TypeError, RecursionError, binascii.Error) as exc:
        raise invalid from exc
    if not isinstance(created_us, int) or isinstance(created_us, bool) or not isinstance(record_id, str):
        raise invalid
    if not -_MAX_US <= created_us <= _MAX_US:
        raise invalid
    return created_us, record_id


def check_limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def fold(text: str) -> str:
    """The form titles are searched in: NFC-normalised and case-folded (so 'É' finds 'é')."""
    return unicodedata.normalize("NFC", text).casefold()
