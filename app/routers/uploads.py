"""Two-step uploads (rules in `services.uploads`): start → send the bytes to
the signed target → complete (or cancel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.concurrency import run_in_threadpool

from app.deps import RootDep, UserDep
from app.schemas.audio import AudioOut, UploadComplete, UploadCreate, UploadOut, UploadTargetOut
from app.schemas.common import ERRORS
from services import uploads

router = APIRouter(prefix="/api/audio/uploads", tags=["audio"])

UploadId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]


@router.post("", response_model=UploadOut, status_code=201, responses=ERRORS(401, 403, 413, 422))
def start_upload(body: UploadCreate, root: RootDep, user: UserDep) -> UploadOut:
    started = uploads.start(
        root.uploads,
        user,
        title=body.title,
        filename=body.filename,
        size_bytes=body.size_bytes,
    )
    return UploadOut(id=started.upload_id, target=UploadTargetOut.of(started.target))


@router.post(
    "/{upload_id}/complete",
    response_model=AudioOut,
    status_code=201,
    responses=ERRORS(401, 403, 404, 409, 413, 415, 422, 503),
)
async def complete_upload(
    upload_id: UploadId, root: RootDep, user: UserDep, body: UploadComplete | None = None
) -> AudioOut:
    title = body.title if body else None
    item = await run_in_threadpool(uploads.complete, root.uploads, user, upload_id, title=title)
    return AudioOut.of(item)


@router.delete("/{upload_id}", status_code=204, responses=ERRORS(401, 403, 404))
def cancel_upload(upload_id: UploadId, root: RootDep, user: UserDep) -> Response:
    uploads.cancel(root.uploads, user, upload_id)
    return Response(status_code=204)
