"""Two-step uploads: the bytes go to a signed target (S3 presigned POST on
AWS, the app's own signed upload route locally), never through API Gateway
and Lambda, whose payload limits are far below the upload cap. The complete
call then validates, normalises and registers the item.

moto (and a misbehaving client) may ignore the signed size condition, so the
size is checked again here before anything is decoded.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from adapters import Adapters
from app.deps import AdaptersDep, UserDep
from app.ingest import ingest, scratch_dir, title_from
from app.multipart_stream import too_large
from app.schemas import AudioOut, UploadComplete, UploadCreate, UploadOut, UploadTargetOut
from core.errors import NotFound
from core.records import AudioItem, PendingUpload, User, new_id, utcnow

router = APIRouter(prefix="/api/audio/uploads", tags=["audio"])


def staging_key(upload_id: str) -> str:
    return f"uploads/{upload_id}"


@router.post("", response_model=UploadOut, status_code=201)
def start_upload(body: UploadCreate, adapters: AdaptersDep, user: UserDep) -> UploadOut:
    settings = adapters.settings
    cap = settings.max_upload_bytes
    if body.size_bytes is not None and body.size_bytes > cap:
        raise too_large(cap)
    upload_id = new_id()
    key = staging_key(upload_id)
    ttl = min(settings.upload_url_ttl_s, 900)
    target = adapters.storage.upload_target(key, max_bytes=cap, expires_s=ttl)
    now = utcnow()
    adapters.records.uploads.add(
        PendingUpload(
            id=upload_id,
            owner=user.username,
            storage_key=key,
            title=body.title,
            filename=body.filename,
            max_bytes=cap,
            created_at=now,
            # A little longer than the target, so bytes sent just in time can still be completed.
            expires_at=max(target.expires_at, now + timedelta(seconds=ttl)) + timedelta(seconds=300),
        )
    )
    return UploadOut(
        id=upload_id,
        target=UploadTargetOut(
            url=target.url,
            method=target.method,
            fields=target.fields,
            headers=target.headers,
            file_field=target.file_field,
            expires_at=target.expires_at,
        ),
    )


def _pending(adapters: Adapters, upload_id: str, user: User) -> PendingUpload:
    try:
        pending = adapters.records.uploads.get(upload_id)
    except NotFound:
        pending = None
    # Someone else's upload reads as missing: its id tells nothing.
    if pending is None or pending.owner != user.username:
        raise HTTPException(404, f"no pending upload {upload_id} (unknown or expired)")
    return pending


def _discard(adapters: Adapters, pending: PendingUpload) -> None:
    adapters.storage.delete(pending.storage_key)
    adapters.records.uploads.delete(pending.id)


def _complete(adapters: Adapters, pending: PendingUpload, title: str | None) -> AudioItem:
    """Claim the upload (an atomic counter, so two calls at once, even in two
    Lambda containers, cannot both make an item), then validate and ingest."""
    claim = f"upload-complete:{pending.id}"
    counters = adapters.records.counters
    if counters.add(claim, 1, ttl_s=adapters.settings.upload_url_ttl_s + 600) > 1:
        raise HTTPException(409, "this upload is already being completed")
    try:
        return _validate_and_ingest(adapters, pending, title)
    finally:
        counters.reset(claim)


def _validate_and_ingest(adapters: Adapters, pending: PendingUpload, title: str | None) -> AudioItem:
    try:
        info = adapters.storage.head(pending.storage_key)
    except NotFound:
        raise HTTPException(409, "no bytes have been sent to this upload's target yet") from None
    if info.size > pending.max_bytes:
        _discard(adapters, pending)
        raise too_large(pending.max_bytes)
    try:
        with scratch_dir(adapters) as work:
            src = work / "upload"
            adapters.storage.download_to(pending.storage_key, src)
            item = ingest(
                adapters, src, owner=pending.owner, title=title_from(title or pending.title, pending.filename)
            )
    except HTTPException as exc:
        if exc.status_code in (413, 415, 422):
            _discard(adapters, pending)
        raise
    _discard(adapters, pending)
    return item


@router.post("/{upload_id}/complete", response_model=AudioOut, status_code=201)
async def complete_upload(
    upload_id: str, adapters: AdaptersDep, user: UserDep, body: UploadComplete | None = None
) -> AudioOut:
    pending = await run_in_threadpool(_pending, adapters, upload_id, user)
    title = body.title if body else None
    item = await run_in_threadpool(_complete, adapters, pending, title)
    return AudioOut.of(item)


@router.delete("/{upload_id}", status_code=204)
def cancel_upload(upload_id: str, adapters: AdaptersDep, user: UserDep) -> None:
    _discard(adapters, _pending(adapters, upload_id, user))
