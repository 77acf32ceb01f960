"""Whole collections in: a ZIP of audio (or one audiobook) becomes items and playlists
(rules in `services.imports`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.deps import RootDep, UserDep
from app.http.multipart_stream import receive_file
from app.schemas.common import ERRORS
from app.schemas.imports import ImportOut
from app.schemas.scheduled import RunOut
from services import imports
from services.ingest import scratch_dir

router = APIRouter(prefix="/api/imports", tags=["audio"])

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
    responses={
        **ERRORS(400, 401, 403, 413, 415, 422, 429, 503),
        202: {"model": ImportOut, "description": "queued: follow the run"},
    },
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
    body = ImportOut(run=RunOut.of(run)).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if run.status in ("queued", "running") else 200)
