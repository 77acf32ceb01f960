"""Audio objects as files under `DATA_DIR/audio`, with signed URLs served by the app.

The local twin of S3: keys are relative paths, every write goes to a temp file
in the target directory and is renamed into place only once it is complete and
on disk, so a reader sees the old object or the new one, never half of one.
The content type lives in a small sidecar file next to the object.

Download and upload URLs point at the app itself (`app/routers/storage.py`) and
carry an HMAC over what they allow and until when, the way presigned S3 URLs
do, so a player or browser needs no cookie to use them.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import quote, urlencode

from adapters.secret import derive_key, session_secret
from core.errors import AdapterError, InvalidRange, NotFound
from core.records import ObjectInfo, UploadTarget
from core.settings import Settings

MAX_URL_TTL_S = 900
MAX_KEY_LENGTH = 512
DEFAULT_CONTENT_TYPE = "application/octet-stream"
CHUNK = 1024 * 1024
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *; *[A-Za-z0-9_-]+=[A-Za-z0-9._-]+)*")


class SignatureInvalid(AdapterError):
    """A storage URL or upload form whose signature is wrong, or which has expired."""


class TooLarge(AdapterError):
    """More bytes arrived than the upload allows."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"upload is larger than the {max_bytes} bytes allowed")
        self.max_bytes = max_bytes


def check_key(key: str) -> str:
    """The key when it is a safe relative object name, else ValueError saying why.

    Segments start with a letter or digit, so a key can never be `..`, an
    absolute path, or collide with the hidden temp and sidecar files. Both
    storage backends use this rule, so an object can move between them.
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


def check_content_type(content_type: str) -> str:
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"content type {content_type!r} is not a valid media type")
    return content_type


def url_ttl(expires_s: int) -> int:
    """Seconds a signed URL lives: what was asked for, at most 900."""
    if expires_s <= 0:
        raise ValueError("a signed URL must live at least one second")
    return min(expires_s, MAX_URL_TTL_S)


class AtomicWriter:
    """Bytes on their way to one object: a temp file that becomes the object on
    `commit()` and vanishes on `abort()` (or when the `with` block raises)."""

    def __init__(self, target: Path, *, max_bytes: int | None = None) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.size = 0
        if target.is_dir():
            raise ValueError(f"{target.name!r} is a folder of other objects, it cannot also be an object")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ValueError(f"a parent of {target.name!r} is an object, it cannot also be a folder") from None
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        self._tmp = Path(tmp)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise RuntimeError("write after commit or abort")
        if self.max_bytes is not None and self.size + len(chunk) > self.max_bytes:
            self.abort()
            raise TooLarge(self.max_bytes)
        self._file.write(chunk)
        self.size += len(chunk)

    def commit(self, content_type: str | None) -> int:
        """Make the bytes the object (with `content_type` in its sidecar, if given); returns the size."""
        if self._file is None:
            raise RuntimeError("commit after commit or abort")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            if content_type is not None:
                _write_sidecar(self.target, content_type)
            os.replace(self._tmp, self.target)
            _fsync_dir(self.target.parent)
        except BaseException:
            self.abort()
            raise
        return self.size

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()


class FileStorage:
    """The `AudioStorage` port on the local disk."""

    def __init__(self, settings: Settings) -> None:
        self.root = Path(settings.data_dir) / "audio"
        self.root.mkdir(parents=True, exist_ok=True)
        self.public_url = settings.public_url.rstrip("/")
        secret = session_secret(settings)
        self._download_key = derive_key(secret, "storage-download")
        self._upload_key = derive_key(secret, "storage-upload")

    # ------------------------------------------------------------------ objects

    def path_for(self, key: str) -> Path:
        return self.root / check_key(key)

    def writer(self, key: str, *, max_bytes: int | None = None) -> AtomicWriter:
        return AtomicWriter(self.path_for(key), max_bytes=max_bytes)

    def put_fileobj(self, key: str, source: BinaryIO, content_type: str) -> ObjectInfo:
        """Copy a readable binary stream into the object; a stream that fails midway leaves nothing."""
        check_content_type(content_type)
        with self.writer(key) as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
            size = out.commit(content_type)
        return ObjectInfo(key=key, size=size, content_type=content_type)

    def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        with open(path, "rb") as source:
            return self.put_fileobj(key, source, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        check_content_type(content_type)
        with self.writer(key) as out:
            out.write(data)
            out.commit(content_type)
        return ObjectInfo(key=key, size=len(data), content_type=content_type)

    def receive(
        self, key: str, chunks: Iterable[bytes], *, max_bytes: int, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        """Store streamed bytes, stopping with `TooLarge` (and nothing kept) past `max_bytes`."""
        check_content_type(content_type)
        with self.writer(key, max_bytes=max_bytes) as out:
            for chunk in chunks:
                out.write(chunk)
            size = out.commit(content_type)
        return ObjectInfo(key=key, size=size, content_type=content_type)

    def head(self, key: str) -> ObjectInfo:
        path = self.path_for(key)
        try:
            size = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no object {key!r}") from None
        if not path.is_file():
            raise NotFound(f"no object {key!r}")
        return ObjectInfo(key=key, size=size, content_type=_read_sidecar(path))

    def read_range(self, key: str, start: int, end: int) -> bytes:
        size = self.head(key).size
        if start < 0 or end < start or start >= size:
            raise InvalidRange(f"bytes {start}-{end} lie outside {key!r} ({size} bytes)")
        try:
            with open(self.path_for(key), "rb") as source:
                source.seek(start)
                return source.read(min(end, size - 1) - start + 1)
        except FileNotFoundError:
            raise NotFound(f"no object {key!r}") from None

    def download_to(self, key: str, path: Path) -> None:
        source_path = self.path_for(key)
        try:
            source = open(source_path, "rb")  # noqa: SIM115 - closed below
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no object {key!r}") from None
        with source, AtomicWriter(path) as out:
            shutil.copyfileobj(source, _WriterSink(out), CHUNK)
            out.commit(None)

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        if path.is_dir():
            return
        path.unlink(missing_ok=True)
        _sidecar(path).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self.path_for(key)

    # ------------------------------------------------------------------ signed URLs

    def download_url(self, key: str, *, expires_s: int) -> str:
        check_key(key)
        exp = int(time.time()) + url_ttl(expires_s)
        query = urlencode({"exp": exp, "sig": self._sign(self._download_key, key, str(exp))})
        return f"{self.public_url}/api/storage/blob/{quote(key, safe='/')}?{query}"

    def upload_target(self, key: str, *, max_bytes: int, expires_s: int) -> UploadTarget:
        check_key(key)
        if max_bytes <= 0:
            raise ValueError("an upload must allow at least one byte")
        exp = int(time.time()) + url_ttl(expires_s)
        fields = {
            "key": key,
            "max": str(max_bytes),
            "exp": str(exp),
            "sig": self._sign(self._upload_key, key, str(max_bytes), str(exp)),
        }
        return UploadTarget(
            url=f"{self.public_url}/api/storage/upload",
            method="POST",
            fields=fields,
            file_field="file",
            expires_at=datetime.fromtimestamp(exp, UTC),
        )

    def verify_download(self, key: str, exp: str | None, sig: str | None) -> None:
        """`SignatureInvalid` unless (key, exp, sig) came from `download_url` and is still valid."""
        self._verify(self._download_key, sig, exp, key, exp or "")

    def verify_upload(self, fields: Mapping[str, str]) -> tuple[str, int]:
        """The (key, max_bytes) an upload form allows; `SignatureInvalid` if it was altered or expired."""
        key, max_s, exp = fields.get("key", ""), fields.get("max", ""), fields.get("exp")
        self._verify(self._upload_key, fields.get("sig"), exp, key, max_s, exp or "")
        return check_key(key), int(max_s)

    @staticmethod
    def _sign(secret_key: bytes, *parts: str) -> str:
        mac = hmac.new(secret_key, "\n".join(parts).encode(), "sha256").digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def _verify(self, secret_key: bytes, sig: str | None, exp: str | None, *parts: str) -> None:
        if not sig or not exp:
            raise SignatureInvalid("the URL is not signed")
        if not hmac.compare_digest(sig.encode(), self._sign(secret_key, *parts).encode()):
            raise SignatureInvalid("the signature does not match")
        if not exp.isdigit() or int(exp) < time.time():
            raise SignatureInvalid("the signed URL has expired")


class _WriterSink:
    """Lets `shutil.copyfileobj` write into an `AtomicWriter`."""

    def __init__(self, writer: AtomicWriter) -> None:
        self._writer = writer

    def write(self, chunk: bytes) -> int:
        self._writer.write(chunk)
        return len(chunk)


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.content-type")


def _write_sidecar(target: Path, content_type: str) -> None:
    sidecar = _sidecar(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{sidecar.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(content_type)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, sidecar)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_sidecar(path: Path) -> str:
    try:
        return _sidecar(path).read_text().strip() or DEFAULT_CONTENT_TYPE
    except FileNotFoundError:
        return DEFAULT_CONTENT_TYPE


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
