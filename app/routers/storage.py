"""The app's answer to the storage port's own signed URLs: a signed blob GET
and a signed multipart upload POST, where the storage has no server of its
own (the local disk).

Both are authorised by the signature in the URL or form, not by the session
cookie, so a Yoto player or a browser can use them directly. The router asks
the port (`AudioStorage.signed_blob`, `AudioStorage.signed_upload`) and never
knows which storage it has: where the storage answers such URLs itself (S3)
or has none (memory), the port says `NotSupportedHere` and the route is 404.

Range requests are served by Starlette's `FileResponse`, which handles single
ranges (also suffix `-N` and open-ended `N-`), multiple ranges, HEAD, If-Range
and 416 for unsatisfiable ranges. One difference from RFC 9110: a malformed
Range header or a unit other than `bytes` gets 400 instead of being ignored.

The upload is parsed as it streams in (`app.http.multipart_stream`, shared with
the direct upload): the signed fields must come before the file (as S3
requires), so a bad signature is refused before any file byte is kept, and
the size cap stops the upload as soon as it is passed. A form is single-use:
sending it again after it succeeded is 409.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from app.deps import RootDep
from app.http.multipart_stream import FilePart, FileSink, read_form
from app.schemas.common import ERRORS
from app.schemas.storage import StoredOut
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, NotSupportedHere, TooLarge
from core.ports import AudioStorage, UploadSink

router = APIRouter(prefix="/api/storage", tags=["storage"])

# The domain errors these routes can meet, as HTTP answers (a fixed reason, or
# None for the error's own). A bare app that mounts only this router (the
# storage contract suite) answers them the same as the full app.
_STATUS: dict[type[DomainError], tuple[int, str | None]] = {
    NotSupportedHere: (404, "Not Found"),
    NotFound: (404, "no such object"),
    Forbidden: (403, None),
    Conflict: (409, None),
    TooLarge: (413, None),
    Invalid: (400, None),
}
_HANDLED = tuple(_STATUS)


def _http(exc: DomainError, *, forbidden_hint: str = "") -> HTTPException:
    status, reason = next(answer for kind, answer in _STATUS.items() if isinstance(exc, kind))
    if reason is None:
        reason = f"{exc}{forbidden_hint}" if isinstance(exc, Forbidden) else str(exc)
    return HTTPException(status, reason)


# Hand-written: the routes read the request themselves (Range; a streamed form).
_BYTES = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
_BLOB_RESPONSES = {200: {"description": "the object", **_BYTES}, 206: {"description": "the ranges asked for", **_BYTES}}
# The signed fields come first, as `upload_target` hands them out, then the file.
_SIGNED_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["key", "max", "exp", "sig", "file"],
                    "properties": {
                        "key": {"type": "string"},
                        "max": {"type": "string"},
                        "exp": {"type": "string"},
                        "sig": {"type": "string"},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


@router.head("/blob/{key:path}", response_class=FileResponse, include_in_schema=False)
@router.get(
    "/blob/{key:path}", response_class=FileResponse, responses={**_BLOB_RESPONSES, **ERRORS(400, 403, 404, 416)}
)
def blob(key: str, root: RootDep, exp: str | None = None, sig: str | None = None) -> Response:
    query = {name: value for name, value in (("exp", exp), ("sig", sig)) if value is not None}
    try:
        found = root.adapters.storage.signed_blob(key, query)
    except _HANDLED as exc:
        raise _http(exc) from None
    return FileResponse(
        found.path, media_type=found.content_type, headers={"Cache-Control": f"private, max-age={found.max_age_s}"}
    )


@router.post(
    "/upload",
    status_code=201,
    response_model=StoredOut,
    openapi_extra=_SIGNED_FORM,
    responses=ERRORS(400, 403, 404, 409, 413),
)
async def upload(request: Request, root: RootDep) -> JSONResponse:
    signed = _SignedUpload(root.adapters.storage)
    await read_form(request, signed.open_file, body_cap=root.settings.max_upload_bytes)
    sink = signed.sink
    if sink is None:  # read_form returns only after the file part was opened; kept for clarity
        raise HTTPException(400, "the form has no 'file' part")
    try:
        info = await run_in_threadpool(sink.commit)
    except BaseException:
        sink.abort()
        raise
    return JSONResponse({"key": info.key, "size": info.size, "content_type": info.content_type}, status_code=201)


class _SignedUpload:
    """Asks the storage for a sink when the file part begins (the signed fields
    have arrived by then), and hands the form parser a sink that speaks HTTP."""

    def __init__(self, storage: AudioStorage) -> None:
        self.storage = storage
        self.sink: UploadSink | None = None

    def open_file(self, fields: dict[str, str], part: FilePart) -> FileSink:
        try:
            self.sink = self.storage.signed_upload(fields, part.content_type)
        except _HANDLED as exc:
            raise _http(exc, forbidden_hint=" (the signed fields must come before the file)") from None
        return _HttpSink(self.sink)


class _HttpSink:
    """An `UploadSink` as a form sink: its size cap becomes a 413, and closing
    the part leaves the commit to the route."""

    def __init__(self, sink: UploadSink) -> None:
        self.sink = sink

    def write(self, chunk: bytes) -> None:
        try:
            self.sink.write(chunk)
        except TooLarge as exc:
            raise HTTPException(413, str(exc)) from None

    def close(self) -> None:
        pass

    def abort(self) -> None:
        self.sink.abort()
