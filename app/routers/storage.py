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

The upload is parsed as it streams in (`app.multipart_stream`, shared with
the direct upload): the signed fields must come before the file (as S3
requires), so a bad signature is refused before any file byte is kept, and
the size cap stops the upload as soon as it is passed.

`adapters.local.file_storage` is imported inside the functions that use it:
these routes only ever serve the local backend, and Lambda should not pay for
importing it on a cold start.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from adapters import Adapters
from app.deps import AdaptersDep
from app.multipart_stream import FilePart, FileSink, read_form
from core.errors import NotFound

if TYPE_CHECKING:
    from adapters.local.file_storage import AtomicWriter, FileStorage

router = APIRouter(prefix="/api/storage", tags=["storage"])


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
    signed = _SignedUpload(storage)
    await read_form(request, signed.open_file, body_cap=adapters.settings.max_upload_bytes)
    writer = signed.writer
    if writer is None:  # read_form returns only after the file part was opened; kept for clarity
        raise HTTPException(400, "the form has no 'file' part")
    try:
        size = await run_in_threadpool(writer.commit, signed.content_type)
    except BaseException:
        writer.abort()
        raise
    return JSONResponse({"key": signed.key, "size": size, "content_type": signed.content_type}, status_code=201)


class _SignedUpload:
    """Opens the file part only when the fields before it carry a valid signature,
    and streams it into an `AtomicWriter` capped at the signed size."""

    def __init__(self, storage: FileStorage) -> None:
        from adapters.local.file_storage import DEFAULT_CONTENT_TYPE

        self.storage = storage
        self.key = ""
        self.content_type = DEFAULT_CONTENT_TYPE
        self.writer: AtomicWriter | None = None

    def open_file(self, fields: dict[str, str], part: FilePart) -> FileSink:
        from adapters.local.file_storage import SignatureInvalid, check_content_type

        try:
            self.key, max_bytes = self.storage.verify_upload(fields)
        except SignatureInvalid as exc:
            raise HTTPException(403, f"{exc} (the signed fields must come before the file)") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        if part.content_type.strip():
            try:
                self.content_type = check_content_type(part.content_type.strip())
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None
        self.writer = self.storage.writer(self.key, max_bytes=max_bytes)
        return _WriterSink(self.writer)


class _WriterSink:
    """An `AtomicWriter` as a form sink: its size cap becomes a 413, and closing
    the part leaves the commit to the route."""

    def __init__(self, writer: AtomicWriter) -> None:
        self.writer = writer

    def write(self, chunk: bytes) -> None:
        from adapters.local.file_storage import TooLarge

        try:
            self.writer.write(chunk)
        except TooLarge as exc:
            raise HTTPException(413, str(exc)) from None

    def close(self) -> None:
        pass

    def abort(self) -> None:
        self.writer.abort()
