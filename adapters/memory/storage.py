"""The `AudioStorage` port in memory, for fast service tests.

Objects are bytes in a dict, behind one lock; keys, content types and URL
lifetimes follow the same rules as on disk and S3 (`adapters.storage_rules`),
and a write that fails midway stores nothing. Keys are flat, as on S3 (an
object `a` and an object `a/b` may both exist).

There is no HTTP side: `download_url` and `upload_target` hand out
`memory://` URLs that name the key and the expiry but that nothing answers,
so `signed_blob` and `signed_upload` are `NotSupportedHere`. A service test
"uploads" by putting the bytes under the target's key itself.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NoReturn
from urllib.parse import quote, urlencode

from adapters.storage_rules import (
    check_age,
    check_content_type,
    check_key,
    check_max_bytes,
    check_prefix,
    url_ttl,
)
from core.errors import InvalidRange, NotFound, NotSupportedHere
from core.records import ObjectInfo, UploadTarget

_CHUNK = 1024 * 1024
BASE_URL = "memory://storage"


@dataclass(frozen=True)
class _Object:
    data: bytes
    content_type: str
    written_at: float  # seconds, by the storage's clock


class MemoryStorage:
    """Objects by key in this process. `clock` (seconds since the epoch) dates
    writes and URL expiries; pass your own to test `delete_stale` without sleeping."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._objects: dict[str, _Object] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ objects

    def _store(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        check_key(key)
        check_content_type(content_type)
        with self._lock:
            self._objects[key] = _Object(bytes(data), content_type, self._clock())
        return ObjectInfo(key=key, size=len(data), content_type=content_type)

    def _get(self, key: str) -> _Object:
        check_key(key)
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise NotFound(f"no object {key!r}")
        return found

    def put_fileobj(self, key: str, source: BinaryIO, content_type: str) -> ObjectInfo:
        """Read the whole stream, then store it: a stream that fails midway leaves nothing."""
        check_key(key)
        check_content_type(content_type)
        chunks = []
        while chunk := source.read(_CHUNK):
            chunks.append(chunk)
        return self._store(key, b"".join(chunks), content_type)

    def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        with open(path, "rb") as source:
            return self.put_fileobj(key, source, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        return self._store(key, data, content_type)

    def head(self, key: str) -> ObjectInfo:
        found = self._get(key)
        return ObjectInfo(key=key, size=len(found.data), content_type=found.content_type)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        data = self._get(key).data
        if start < 0 or end < start or start >= len(data):
            raise InvalidRange(f"bytes {start}-{end} lie outside {key!r} ({len(data)} bytes)")
        return data[start : end + 1]

    def download_to(self, key: str, path: Path) -> None:
        """Written to a temp file beside `path` and renamed, so `path` is whole or absent."""
        data = self._get(key).data
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def local_path(self, key: str) -> Path | None:
        return None

    def delete_stale(self, prefix: str, older_than_s: int) -> int:
        check_prefix(prefix)
        cutoff = self._clock() - check_age(older_than_s)
        with self._lock:
            stale = [k for k, o in self._objects.items() if k.startswith(prefix) and o.written_at < cutoff]
            for key in stale:
                del self._objects[key]
        return len(stale)

    def keys(self) -> list[str]:
        """Every key held, sorted (for tests that check nothing was left behind)."""
        with self._lock:
            return sorted(self._objects)

    # ------------------------------------------------------------------ URLs nothing answers

    def _expiry(self, expires_s: int) -> int:
        return int(self._clock()) + url_ttl(expires_s)

    def download_url(self, key: str, *, expires_s: int) -> str:
        check_key(key)
        return f"{BASE_URL}/{quote(key, safe='/')}?{urlencode({'exp': self._expiry(expires_s)})}"

    def upload_target(self, key: str, *, max_bytes: int, expires_s: int) -> UploadTarget:
        check_key(key)
        check_max_bytes(max_bytes)
        exp = self._expiry(expires_s)
        return UploadTarget(
            url=f"{BASE_URL}/upload",
            method="POST",
            fields={"key": key, "max": str(max_bytes), "exp": str(exp)},
            file_field="file",
            expires_at=datetime.fromtimestamp(exp, UTC),
        )

    def signed_blob(self, key: str, query: dict[str, str]) -> NoReturn:
        raise NotSupportedHere("memory storage answers no URLs")

    def signed_upload(self, fields: dict[str, str], content_type: str | None) -> NoReturn:
        raise NotSupportedHere("memory storage answers no URLs")
