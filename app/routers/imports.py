"""Whole collections in: a ZIP of audio (or one audiobook) becomes items and playlists
(rules in `services.imports`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.deps import RootDep, UserDep
from app.http.multipart_stream import receive_file
from app.schemas.audio import UploadOut, UploadTargetOut
from app.schemas.common import ERRORS
from app.schemas.imports import ImportOut, ImportUploadIn
from app.schemas.scheduled import RunOut
from core.records import Run
from services import imports
from services.ingest import scratch_dir

router = APIRouter(prefix="/api/imports", tags=["audio"])

UploadId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
_RUN_ANSWERS = {202: {"model": ImportOut, "description": "queued: follow the run"}}

_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    response_model=ImportOut,
    openapi_extra=_MULTIPART,
    responses={**ERRORS(400, 401, 403, 413, 415, 422, 429, 503), **_RUN_ANSWERS},
)
async def start_import(request: Request, root: RootDep, user: UserDep) -> JSONResponse:
    """Multipart `file`: a ZIP of audio, or one audio file. Each audio file becomes an item
    (its title tag, else its file name); each folder a playlist, in name order; an audiobook
    with chapter marks one item per chapter in a playlist named after the book. The archive
    is checked whole first: 413 past IMPORT_MAX_MB as sent, IMPORT_MAX_FILES, or what it
    expands to (IMPORT_MAX_EXPANDED_MB, IMPORT_MAX_RATIO per entry, counted while read);
    422 for an entry outside the import, a link, or past IMPORT_MAX_DEPTH; 415 neither ZIP
    nor audio; nothing is kept. Then 202 with the run (200 when it ran here): a file that
    cannot be imported is skipped with its reason and the rest goes on."""
    ports = root.imports
    with scratch_dir(ports.ingest.scratch) as work:
        got = await receive_file(request, work / "upload", max_bytes=ports.limits.max_bytes)
        run = await run_in_threadpool(imports.start, ports, user, work / "upload", got.filename)
    return _answer(run)


def _answer(run: Run) -> JSONResponse:
    body = ImportOut(run=RunOut.of(run)).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if run.status in ("queued", "running") else 200)


@router.post("/uploads", response_model=UploadOut, status_code=201, responses=ERRORS(401, 403, 413, 422))
def start_upload(body: ImportUploadIn, root: RootDep, user: UserDep) -> UploadOut:
    """The two-step way in, for an archive larger than the API takes in one body (on AWS,
    Lambda's payload limit): a signed target for at most IMPORT_MAX_MB; send the archive
    there, then `POST /api/imports/uploads/{id}/complete`."""
    started = imports.start_upload(root.imports, root.uploads, user, body.filename, body.size_bytes)
    return UploadOut(id=started.upload_id, target=UploadTargetOut.of(started.target))


@router.post(
    "/uploads/{upload_id}/complete",
    response_model=ImportOut,
    responses={**ERRORS(401, 403, 404, 409, 413, 415, 422, 429, 503), **_RUN_ANSWERS},
)
async def complete_upload(upload_id: UploadId, root: RootDep, user: UserDep) -> JSONResponse:
    """The sent archive, checked and started as `POST /api/imports` does (the same answers);
    the upload is used up either way. 409 before its bytes have arrived."""
    run = await run_in_threadpool(imports.complete_upload, root.imports, root.uploads, user, upload_id)
    return _answer(run)
