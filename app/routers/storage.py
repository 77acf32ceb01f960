"""The local backend's stand-in for presigned S3 URLs: a signed blob GET and a
signed multipart upload POST.

Both are authorised by the signature in the URL or form (made by
`FileStorage`), not by the session cookie, so a Yoto player or a browser can
use them directly. On the AWS backend S3 answers these URLs itself and the
routes do not exist (404).

Range requests are served by Starlette's `FileResponse`, which handles single
ranges (also suffix `-N` and open-ended `N-`), multiple ranges, HEAD, If-Range
and 416 for unsatisfiable ranges. One difference from RFC 9110: a malformed
Range header or a unit other than `bytes` gets 400 instead of being ignored.

The upload is parsed as it streams in: the signed fields must come before the
file (as S3 requires), so a bad signature is refused before any file byte is
kept, and the size cap stops the upload as soon as it is passed.

`adapters.local.file_storage` is imported inside the functions that use it:
these routes only ever serve the local backend, and Lambda should not pay for
importing it on a cold start.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from adapters import Adapters
from adapters.errors import NotFound
from app.deps import AdaptersDep

if TYPE_CHECKING:
    from adapters.local.file_storage import AtomicWriter, FileStorage

router = APIRouter(prefix="/api/storage", tags=["storage"])

FORM_OVERHEAD = 64 * 1024  # room for the signed fields and part headers around the file
MAX_FIELDS = 16
MAX_FIELD_BYTES = 4096


def _local_storage(adapters: Adapters) -> FileStorage:
    if adapters.backend != "local":
        raise HTTPException(404, "Not Found")
    from adapters.local.file_storage import FileStorage

    storage = adapters.storage
    if not isinstance(storage, FileStorage):
        raise HTTPException(404, "Not Found")
    return storage


@router.head("/blob/{key:path}", response_class=FileResponse, include_in_schema=False)
@router.get("/blob/{key:path}", response_class=FileResponse)
def blob(key: str, adapters: AdaptersDep, exp: str | None = None, sig: str | None = None) -> Response:
    storage = _local_storage(adapters)
    from adapters.local.file_storage import SignatureInvalid

    try:
        storage.verify_download(key, exp, sig)
        info = storage.head(key)
    except SignatureInvalid as exc:
        raise HTTPException(403, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    except NotFound:
        raise HTTPException(404, "no such object") from None
    remaining = max(0, int(exp or 0) - int(time.time()))
    return FileResponse(
        storage.path_for(key), media_type=info.content_type, headers={"Cache-Control": f"private, max-age={remaining}"}
    )


@router.post("/upload", status_code=201)
async def upload(request: Request, adapters: AdaptersDep) -> JSONResponse:
    storage = _local_storage(adapters)
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise HTTPException(400, "the upload must be a multipart/form-data body")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > adapters.settings.max_upload_bytes + FORM_OVERHEAD:
        raise HTTPException(413, f"upload is larger than the {adapters.settings.max_upload_bytes} bytes allowed")

    form = _StreamedForm(storage)
    parser = MultipartParser(boundary, form.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            form.process()
        parser.finalize()
        form.process()
        writer = form.finished_file()
        size = await run_in_threadpool(writer.commit, form.file_content_type)
    except FormParserError as exc:
        form.abort()
        raise HTTPException(400, f"malformed multipart body: {exc}") from None
    except BaseException:
        form.abort()
        raise
    return JSONResponse({"key": form.key, "size": size, "content_type": form.file_content_type}, status_code=201)


class _StreamedForm:
    """Collects the signed fields and streams the file part into an `AtomicWriter`.

    python-multipart calls back while it parses; the callbacks only queue what
    they saw, and `process()` acts on the queue, so errors are raised from our
    own code and not from inside the parser.
    """

    def __init__(self, storage: FileStorage) -> None:
        from adapters.local.file_storage import DEFAULT_CONTENT_TYPE

        self.storage = storage
        self.fields: dict[str, str] = {}
        self.key = ""
        self.file_content_type = DEFAULT_CONTENT_TYPE
        self._events: list[tuple[str, Any]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._part: str | None = None  # "field" | "file" | "skip"
        self._field_name = ""
        self._field_value = bytearray()
        self._writer: AtomicWriter | None = None
        self._file_done = False

    def callbacks(self) -> Any:
        def on_part_begin() -> None:
            self._headers = {}

        def on_header_field(data: bytes, start: int, end: int) -> None:
            self._header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self._header_value += data[start:end]

        def on_header_end() -> None:
            self._headers[self._header_field.lower()] = self._header_value
            self._header_field = self._header_value = b""

        def on_headers_finished() -> None:
            self._events.append(("part", dict(self._headers)))

        def on_part_data(data: bytes, start: int, end: int) -> None:
            self._events.append(("data", bytes(data[start:end])))

        def on_part_end() -> None:
            self._events.append(("end", None))

        return {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        }

    def process(self) -> None:
        events, self._events = self._events, []
        for kind, value in events:
            if kind == "part":
                self._begin(value)
            elif kind == "data":
                self._data(value)
            else:
                self._end()

    def _begin(self, headers: dict[bytes, bytes]) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._file_done:
            self._part = "skip"  # S3 ignores fields after the file; so do we
        elif name == "file":
            self._start_file(headers.get(b"content-type", b"").decode("latin-1").strip())
        else:
            if len(self.fields) >= MAX_FIELDS:
                raise HTTPException(400, f"at most {MAX_FIELDS} form fields are allowed")
            self._part, self._field_name, self._field_value = "field", name, bytearray()

    def _start_file(self, content_type: str) -> None:
        from adapters.local.file_storage import SignatureInvalid, check_content_type

        try:
            self.key, max_bytes = self.storage.verify_upload(self.fields)
        except SignatureInvalid as exc:
            raise HTTPException(403, f"{exc} (the signed fields must come before the file)") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        if content_type:
            try:
                self.file_content_type = check_content_type(content_type)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None
        self._writer = self.storage.writer(self.key, max_bytes=max_bytes)
        self._part = "file"

    def _data(self, data: bytes) -> None:
        from adapters.local.file_storage import TooLarge

        if self._part == "field":
            self._field_value += data
            if len(self._field_value) > MAX_FIELD_BYTES:
                raise HTTPException(400, f"form field {self._field_name!r} is longer than {MAX_FIELD_BYTES} bytes")
        elif self._part == "file" and self._writer is not None:
            try:
                self._writer.write(data)
            except TooLarge as exc:
                raise HTTPException(413, str(exc)) from None

    def _end(self) -> None:
        if self._part == "field":
            try:
                self.fields[self._field_name] = self._field_value.decode()
            except UnicodeDecodeError:
                raise HTTPException(400, f"form field {self._field_name!r} is not UTF-8") from None
        elif self._part == "file":
            self._file_done = True
        self._part = None

    def finished_file(self) -> AtomicWriter:
        if self._writer is None or not self._file_done:
            raise HTTPException(400, "the form has no complete 'file' part")
        return self._writer

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
