"""Read a multipart upload from the request stream straight into a sink.

FastAPI's `UploadFile` spools the whole body before the endpoint runs, so a
size cap checked there comes too late. Here the `Content-Length` is checked up
front, the fields before the file are collected, and when the file part
begins the caller's `open_file` decides where its bytes go, or refuses them:
the local signed-upload route checks its signed fields at that moment, as S3
does. The sink counts the bytes as they arrive, so reading stops at the first
chunk over its cap.

Used by the direct upload (`POST /api/audio`) and the local stand-in for S3's
presigned POST (`POST /api/storage/upload`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from fastapi import HTTPException, Request

MAX_FIELDS = 16
MAX_FIELD_BYTES = 4096
# Room for boundaries, part headers and small text fields around the file.
ENVELOPE_BYTES = 64 * 1024


class FileSink(Protocol):
    """Where the file part's bytes go; `write` raises `HTTPException(413)` past its cap."""

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None:
        """The file part ended."""

    def abort(self) -> None:
        """The request failed: drop what was written."""


@dataclass(frozen=True)
class FilePart:
    filename: str | None
    content_type: str  # as the client sent it; "" when absent


OpenFile = Callable[[dict[str, str], FilePart], FileSink]


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    content_type: str = ""
    size: int = 0
    got_file: bool = False


def too_large(max_bytes: int) -> HTTPException:
    mb = max_bytes / (1024 * 1024)
    return HTTPException(413, f"the upload is larger than the limit of {max_bytes} bytes ({mb:g} MB)")


class _Collector:
    """python-multipart's callbacks: fields into a dict, the file part into a sink."""

    def __init__(self, open_file: OpenFile, file_field: str) -> None:
        self.open_file = open_file
        self.file_field = file_field
        self.out = Received()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._buf = bytearray()
        self._sink: FileSink | None = None
        self._file_complete = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        names = (
            "part_begin",
            "header_field",
            "header_value",
            "header_end",
            "headers_finished",
            "part_data",
            "part_end",
        )
        return {f"on_{name}": getattr(self, f"on_{name}") for name in names}

    def on_part_begin(self) -> None:
        self._headers = {}
        self._name = ""
        self._buf = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name != self.file_field:
            if len(self.out.fields) >= MAX_FIELDS:
                raise HTTPException(400, f"at most {MAX_FIELDS} form fields are allowed")
            return
        if self.out.got_file:
            raise HTTPException(400, f"more than one '{self.file_field}' part")
        raw = options.get(b"filename")
        part = FilePart(
            filename=raw.decode("utf-8", "replace") if raw else None,
            content_type=self._headers.get(b"content-type", b"").decode("latin-1"),
        )
        self.out.got_file = True
        self.out.filename, self.out.content_type = part.filename, part.content_type
        self._sink = self.open_file(dict(self.out.fields), part)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._sink is not None and not self._file_complete and self._name == self.file_field:
            self._sink.write(chunk)
            self.out.size += len(chunk)
            return
        self._buf += chunk
        if len(self._buf) > MAX_FIELD_BYTES:
            raise HTTPException(400, f"form field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self._name == self.file_field and self._sink is not None:
            self._sink.close()
            self._file_complete = True
        elif self._name:
            try:
                self.out.fields[self._name] = self._buf.decode()
            except UnicodeDecodeError:
                raise HTTPException(400, f"form field {self._name!r} is not UTF-8") from None

    def abort(self) -> None:
        if self._sink is not None:
            self._sink.abort()


async def read_form(request: Request, open_file: OpenFile, *, body_cap: int, file_field: str = "file") -> Received:
    """Parse the multipart body as it streams in. 400 for a malformed body or
    no complete file part, 413 for a declared `Content-Length` past `body_cap`
    (plus the form's envelope); the sink's own errors pass through, and the
    sink is aborted on any error."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise HTTPException(400, "expected a multipart/form-data body with a boundary")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "invalid Content-Length")
        if int(declared) > body_cap + ENVELOPE_BYTES:
            raise too_large(body_cap)

    collector = _Collector(open_file, file_field)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not collector._file_complete:
            raise HTTPException(400, f"the form has no '{file_field}' part, or it is incomplete")
    except FormParserError as exc:
        collector.abort()
        raise HTTPException(400, f"malformed multipart body: {exc}") from None
    except BaseException:
        collector.abort()
        raise
    return collector.out


class _CappedFile:
    """A plain file as the sink, refusing bytes past `max_bytes`; the caller removes it on error."""

    def __init__(self, dest: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._fh: BinaryIO | None = open(dest, "wb")  # noqa: SIM115 - closed in close/abort

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        if self._fh is not None:
            self._fh.write(chunk)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    abort = close


async def receive_file(request: Request, dest: Path, *, max_bytes: int, file_field: str = "file") -> Received:
    """Stream the multipart body's file part into `dest` (413 past `max_bytes`).
    The caller removes `dest` on error."""
    return await read_form(
        request, lambda _fields, _part: _CappedFile(dest, max_bytes), body_cap=max_bytes, file_field=file_field
    )
