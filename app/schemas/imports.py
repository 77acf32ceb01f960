"""Bodies of `/api/imports`: the run that imports a collection (rules in `services.imports`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import In
from app.schemas.scheduled import RunOut


class ImportUploadIn(In):
    """An archive to send to a signed target first (too large for the API's own body)."""

    filename: str | None = Field(default=None, max_length=255)
    size_bytes: int | None = Field(default=None, ge=0, description="refused at once past IMPORT_MAX_MB")


class ImportOut(BaseModel):
    """The import's run: `results` holds one row per file (`path`, `kind` audio | image | other |
    playlist, `status` waiting | ok | skipped, with `reason`, `title`, `item_id` or `item_ids`
    and `playlist_ids`); follow it with `GET /api/runs/{id}` while it is queued or running."""

    run: RunOut = Field(description="queued (202) or finished here (200)")
