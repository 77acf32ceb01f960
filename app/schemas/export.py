"""The answer of `POST /api/import-backup`: what a restore added, found there, renamed and could not place."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BackupRestoredOut(BaseModel):
    added: dict[str, int] = Field(description="records added, by kind (audio, playlists, cards, ...)")
    already_there: dict[str, int] = Field(
        description="records the install already had: audio by SHA-256, the rest by id (nothing is duplicated)"
    )
    renamed: dict[str, str] = Field(description="audio item ids taken here by another item: backup id -> new id")
    kept_own: list[str] = Field(
        description="'<kind> <id>' whose id this install already uses for a record that differs: its own stays"
    )
    unknown_owners: list[str] = Field(description="owners (member ids) no member of this install has")
    missing: list[str] = Field(description="audio item ids the backup lists without their audio (not restored)")
