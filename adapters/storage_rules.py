"""Rules every `AudioStorage` shares: what a key, a content type and a URL
lifetime may be, so an object can move between the disk, S3 and memory.

Kept apart from the implementations so the S3 adapter (on Lambda) does not
import the local one to check a key.
"""

from __future__ import annotations

import re

MAX_URL_TTL_S = 900
MAX_KEY_LENGTH = 512
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *; *[A-Za-z0-9_-]+=[A-Za-z0-9._-]+)*")


def check_key(key: str) -> str:
    """The key when it is a safe relative object name, else ValueError saying why.

    Segments start with a letter or digit, so a key can never be `..`, an
    absolute path, or collide with the hidden temp and sidecar files of the
    local store.
    """
    if not key:
        raise ValueError("storage key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"storage key is longer than {MAX_KEY_LENGTH} characters")
    if key.startswith("/"):
        raise ValueError("storage key must be relative, not start with '/'")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"storage key {key!r} has an empty, '.' or '..' segment")
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(
                f"storage key segment {segment!r} must start with a letter or digit and hold only "
                "letters, digits, '.', '_' and '-' (at most 128 characters)"
            )
    return key


def check_prefix(prefix: str) -> str:
    """A key prefix (`uploads/`, `uploads/ab`): a valid key once a trailing '/' is dropped.
    An empty prefix is refused, so a sweep can never cover the whole store by accident."""
    if not prefix.rstrip("/"):
        raise ValueError("a storage prefix must name at least one segment, e.g. 'uploads/'")
    check_key(prefix.rstrip("/"))
    return prefix


def check_age(older_than_s: int) -> int:
    if older_than_s < 0:
        raise ValueError(f"older_than_s must not be negative, got {older_than_s}")
    return older_than_s


def check_content_type(content_type: str) -> str:
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"content type {content_type!r} is not a valid media type")
    return content_type


def url_ttl(expires_s: int) -> int:
    """Seconds a signed URL lives: what was asked for, at most 900."""
    if expires_s <= 0:
        raise ValueError("a signed URL must live at least one second")
    return min(expires_s, MAX_URL_TTL_S)


def check_max_bytes(max_bytes: int) -> int:
    if max_bytes <= 0:
        raise ValueError("an upload must allow at least one byte")
    return max_bytes
