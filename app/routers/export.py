"""A family's backup: `GET /api/export` streams it, `POST /api/import-backup` restores it (admins;
the rules are `services.export` and `services.backup_import`'s)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.deps import AdminDep, RootDep
from app.schemas.common import ERRORS
from app.schemas.export import BackupRestoredOut
from core.usernames import name_of
from services import backup_import, export
from services.ingest import scratch_base

router = APIRouter(tags=["backup"])

_ZIP = {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}
_ARCHIVE = {"200": {"description": "the backup ZIP: audio/<item>.<format> as stored, then manifest.json", **_ZIP}}
_ARCHIVE_BODY = {"requestBody": {"required": True, **_ZIP}}


@router.get("/api/export", responses={**ERRORS(401, 403, 409), **_ARCHIVE}, response_class=StreamingResponse)
def export_backup(root: RootDep, _: AdminDep) -> StreamingResponse:
    """Everything the family owns as one ZIP, streamed while it is made (409 on AWS: docs/migration.md)."""
    export.served_here(root.settings)
    name = f"yoto-smart-stream-{datetime.now(UTC):%Y%m%d-%H%M%S}.zip"
    return StreamingResponse(
        export.stream(root.records, root.adapters.storage),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.post(
    "/api/import-backup",
    response_model=BackupRestoredOut,
    responses=ERRORS(401, 403, 409, 413, 422),
    openapi_extra=_ARCHIVE_BODY,
)
async def import_backup(request: Request, root: RootDep, _: AdminDep) -> BackupRestoredOut:
    """Restore a backup made by `GET /api/export`: checked whole first (a file whose SHA-256 is not the
    manifest's is refused, naming it, with nothing kept), then what this install lacks is added."""
    settings = root.settings
    export.served_here(settings)
    sink = backup_import.ArchiveSink(settings.backup_max_mb * 1024 * 1024, scratch_base(settings))
    try:
        async for chunk in request.stream():
            await run_in_threadpool(sink.write, chunk)
        limits = backup_import.Limits(settings.backup_max_mb * 1024 * 1024, settings.backup_max_files)
        outcome = await run_in_threadpool(
            backup_import.restore,
            root.records,
            root.adapters.storage,
            sink.file,
            limits,
            scratch=scratch_base(settings),
            owner_known=backup_import.member_test(root.adapters.identity, root.members),
        )
    finally:
        sink.close()
    return BackupRestoredOut(
        added=outcome.added,
        already_there=outcome.there,
        renamed=outcome.renamed,
        kept_own=outcome.kept_own,
        unknown_owners=[name_of(o) for o in outcome.unknown_owners],
        missing=outcome.missing,
    )
