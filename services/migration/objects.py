"""Audio objects between two storages: the SHA-256 of an object, and an atomic copy.

Every storage write is atomic (a temp file renamed into place on disk, one
PutObject on S3), so a copy killed at any point leaves the target object as it
was or whole, never half-written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from core.ports import AudioStorage
from core.records import ObjectInfo

CHUNK = 8 * 1024 * 1024


def sha256(storage: AudioStorage, key: str) -> str:
    """The object's SHA-256 (hex); `NotFound` when it is missing."""
    digest = hashlib.sha256()
    path = storage.local_path(key)
    if path is not None:
        size = storage.head(key).size  # NotFound before opening
        read = 0
        with open(path, "rb") as source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                read += len(chunk)
        if read != size:
            raise OSError(f"{key} changed while it was read")
        return digest.hexdigest()
    size = storage.head(key).size
    start = 0
    while start < size:
        end = min(size, start + CHUNK) - 1
        digest.update(storage.read_range(key, start, end))
        start = end + 1
    return digest.hexdigest()


def copy(source: AudioStorage, target: AudioStorage, key: str, info: ObjectInfo) -> int:
    """Copy one object (its content type too); returns the bytes written."""
    path = source.local_path(key)
    if path is not None:
        return target.put_file(key, path, info.content_type).size
    fd, tmp = tempfile.mkstemp(prefix="yss-migrate-", suffix=".part")
    os.close(fd)
    try:
        source.download_to(key, Path(tmp))
        return target.put_file(key, Path(tmp), info.content_type).size
    finally:
        Path(tmp).unlink(missing_ok=True)
