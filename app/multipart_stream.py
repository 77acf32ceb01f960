"""Read a multipart upload from the request stream straight into a file.

FastAPI's `UploadFile` spools the whole body before the endpoint runs, so a
size cap checked there comes too late. Here the cap is enforced while the
bytes arrive: the `Content-Length` is checked up front and the file part is
counted chunk by chunk, and reading stops at the first byte over the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, Request

MAX_FIELDS = 16
MAX_FIELD_BYTES = 4096
# Room for boundaries, part headers and small text fields around the file.
ENVELOPE_BYTES = 64 * 1024


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    size: int = 0
    got_file: bool = False


class _TooLarge(Exception):
    pass


class _Bad(Exception):
    pass


class _Collector:
    def __init__(self, dest: Path, file_field: str, max_bytes: int) -> None:
        self.dest = dest
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.out = Received()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._buf = bytearray()
        self._fh: BinaryIO | None = None

    # python-multipart callbacks -------------------------------------------------------
    def on_part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._is_file = False
        self._buf = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name == self.file_field:
            if self.out.got_file:
                raise _Bad(f"more than one '{self.file_field}' part")
            self._is_file = True
            self.out.got_file = True
            raw = options.get(b"filename")
            self.out.filename = raw.decode("utf-8", "replace") if raw else None
            self._fh = open(self.dest, "wb")  # noqa: SIM115 - closed in on_part_end/close
        elif len(self.out.fields) >= MAX_FIELDS:
            raise _Bad("too many form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.out.size += len(chunk)
            if self.out.size > self.max_bytes:
                raise _TooLarge
            if self._fh is not None:
                self._fh.write(chunk)
        else:
            self._buf += chunk
            if len(self._buf) > MAX_FIELD_BYTES:
                raise _Bad(f"form field '{self._name}' is too long")

    def on_part_end(self) -> None:
        if self._is_file:
            self.close()
        elif self._name:
            self.out.fields[self._name] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def too_large(max_bytes: int) -> HTTPException:
    return HTTPException(413, f"the upload is larger than the limit of {max_bytes // (1024 * 1024)} MB")


async def receive_file(request: Request, dest: Path, *, max_bytes: int, file_field: str = "file") -> Received:
    """Stream the multipart body into `dest`. 413 past `max_bytes`, 400 for a
    malformed body or a missing file part. The caller removes `dest` on error."""
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
        if int(declared) > max_bytes + ENVELOPE_BYTES:
            raise too_large(max_bytes)

    collector = _Collector(dest, file_field, max_bytes)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except _TooLarge:
        raise too_large(max_bytes) from None
    except _Bad as exc:
        raise HTTPException(400, str(exc)) from None
    except FormParserError as exc:
        raise HTTPException(400, f"malformed multipart body: {exc}") from None
    finally:
        collector.close()
    if not collector.out.got_file:
        raise HTTPException(400, f"the form has no '{file_field}' part")
    return collector.out
