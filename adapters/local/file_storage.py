"""Audio objects as files under `DATA_DIR/audio`, with signed URLs served by the app.

The local twin of S3: keys are relative paths, every write goes to a temp file
in the target directory and is renamed into place only once it is complete and
on disk, so a reader sees the old object or the new one, never half of one.
The content type lives in a small sidecar file next to the object.

Download and upload URLs point at the app itself (`app/routers/storage.py`) and
carry an HMAC over what they allow and until when, the way presigned S3 URLs
do, so a player or browser needs no cookie to use them. The routes reach the
files only through the port (`signed_blob`, `signed_upload`). Unlike S3's
presigned POST, a local upload form is single-use (see `signed_upload`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import quote, urlencode

from adapters.secret import derive_key, session_secret
from adapters.storage_rules import (
    DEFAULT_CONTENT_TYPE,
    MAX_KEY_LENGTH,
    MAX_URL_TTL_S,
    check_age,
    check_content_type,
    check_key,
    check_max_bytes,
    check_prefix,
    url_ttl,
)
from core import errors
from core.errors import Conflict, Forbidden, Invalid, InvalidRange, NotFound
from core.records import LocalBlob, ObjectInfo, UploadTarget
from core.settings import Settings

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MAX_KEY_LENGTH",
    "MAX_URL_TTL_S",
    "AtomicWriter",
    "FileStorage",
    "SignatureInvalid",
    "TooLarge",
    "check_content_type",
    "check_key",
    "url_ttl",
]

CHUNK = 1024 * 1024
# Where the single-use markers of upload forms live, beside (not inside) the objects.
USED_FORMS_DIR = ".upload-forms"


class SignatureInvalid(Forbidden):
    """A storage URL or upload form whose signature is wrong, or which has expired."""


class TooLarge(errors.TooLarge):
    """More bytes arrived than the upload allows."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"upload is larger than the {max_bytes} bytes allowed", max_bytes=max_bytes)
        self.max_bytes = max_bytes


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
        self._used_forms = Path(settings.data_dir) / USED_FORMS_DIR
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

    def delete_stale(self, prefix: str, older_than_s: int) -> int:
        """Objects under `prefix` whose file was last written (mtime) more than
        `older_than_s` ago, with their sidecars; also temp files of writes that
        died, and the single-use markers of upload forms that have expired."""
        check_prefix(prefix)
        cutoff = time.time() - check_age(older_than_s)
        base = self.root / prefix[: prefix.rfind("/") + 1] if "/" in prefix else self.root
        removed = 0
        for path in _files(base):
            key = path.relative_to(self.root).as_posix()
            if not key.startswith(prefix):
                continue
            try:
                if path.stat().st_mtime >= cutoff:
                    continue
            except FileNotFoundError:
                continue
            if path.name.startswith("."):
                if path.name.endswith(".part"):
                    path.unlink(missing_ok=True)  # a write that never finished
                continue
            path.unlink(missing_ok=True)
            _sidecar(path).unlink(missing_ok=True)
            removed += 1
        self._sweep_used_forms()
        return removed

    # ------------------------------------------------------------------ signed URLs

    def download_url(self, key: str, *, expires_s: int) -> str:
        check_key(key)
        exp = int(time.time()) + url_ttl(expires_s)
        query = urlencode({"exp": exp, "sig": self._sign(self._download_key, key, str(exp))})
        return f"{self.public_url}/api/storage/blob/{quote(key, safe='/')}?{query}"

    def upload_target(self, key: str, *, max_bytes: int, expires_s: int) -> UploadTarget:
        check_key(key)
        check_max_bytes(max_bytes)
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

    def signed_blob(self, key: str, query: dict[str, str]) -> LocalBlob:
        exp = query.get("exp")
        self.verify_download(key, exp, query.get("sig"))
        try:
            info = self.head(key)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        remaining = max(0, int(exp or 0) - int(time.time()))
        return LocalBlob(path=self.path_for(key), content_type=info.content_type, max_age_s=remaining)

    def signed_upload(self, fields: dict[str, str], content_type: str | None) -> FileUploadSink:
        """A capped, atomic writer for the form's key, once its signature checks out.

        The form is claimed first with a marker named by its signature, created
        exclusively: a second request with the same form, while the first is
        in flight or after it succeeded, gets `Conflict`. A failed upload
        releases the claim; a committed one keeps it until the form expires
        (then `delete_stale` sweeps it), so a replay is refused even after the
        staged object itself was deleted."""
        try:
            key, max_bytes = self.verify_upload(fields)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        kind = DEFAULT_CONTENT_TYPE
        if content_type and content_type.strip():
            try:
                kind = check_content_type(content_type.strip())
            except ValueError as exc:
                raise Invalid(str(exc)) from None
        marker = self._claim_form(fields["sig"], fields["exp"])
        try:
            writer = self.writer(key, max_bytes=max_bytes)
        except ValueError as exc:
            marker.unlink(missing_ok=True)
            raise Invalid(str(exc)) from None
        return FileUploadSink(key, kind, writer, marker)

    def _claim_form(self, sig: str, exp: str) -> Path:
        self._used_forms.mkdir(parents=True, exist_ok=True)
        marker = self._used_forms / hashlib.sha256(sig.encode()).hexdigest()[:40]
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise Conflict("this upload form has already been used; ask for a new upload target") from None
        with os.fdopen(fd, "w") as out:
            out.write(exp)
        return marker

    def _sweep_used_forms(self) -> None:
        """Markers of forms past their expiry: the signature check refuses those forms anyway."""
        if not self._used_forms.is_dir():
            return
        now = time.time()
        for marker in self._used_forms.iterdir():
            try:
                exp = marker.read_text().strip()
            except FileNotFoundError:
                continue
            if not exp.isdigit() or int(exp) < now:
                marker.unlink(missing_ok=True)

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


class FileUploadSink:
    """The `UploadSink` of a signed local upload: an `AtomicWriter` plus the form's claim."""

    def __init__(self, key: str, content_type: str, writer: AtomicWriter, marker: Path) -> None:
        self.key = key
        self.content_type = content_type
        self._writer = writer
        self._marker = marker
        self._committed = False

    def write(self, chunk: bytes) -> None:
        try:
            self._writer.write(chunk)
        except TooLarge:
            self.abort()
            raise

    def commit(self) -> ObjectInfo:
        try:
            size = self._writer.commit(self.content_type)
        except BaseException:
            self.abort()
            raise
        self._committed = True
        return ObjectInfo(key=self.key, size=size, content_type=self.content_type)

    def abort(self) -> None:
        """Drop the bytes and release the form; after a commit there is nothing to undo."""
        if self._committed:
            return
        self._writer.abort()
        self._marker.unlink(missing_ok=True)


def _files(base: Path) -> Iterator[Path]:
    """Every file below `base` (none when it does not exist or is a file)."""
    for folder, _dirs, names in os.walk(base):
        for name in names:
            yield Path(folder) / name


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
