"""Bodies of `/api/audio*` and `/api/tts*`: the library, uploads and speech."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.common import NOT_BLANK, In, Out
from core.records import AudioItem, Voice
from services.ingest import TITLE_MAX

Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK)]


class AudioOut(Out):
    id: str
    title: str
    duration_s: float
    size_bytes: int
    format: str
    created_at: datetime
    owner: str
    source: str
    loudness_lufs: float | None = Field(description="the stored file's integrated loudness (target -16 LUFS)")
    loudness_in_lufs: float | None = Field(description="what the file measured before normalisation")
    gain_db: float | None = Field(description="the gain applied to reach the target")
    peak_dbfs: float | None = Field(description="the stored file's sample peak")

    _record: ClassVar[type] = AudioItem


class AudioPage(BaseModel):
    items: list[AudioOut]
    next_cursor: str | None = None


class AudioPatch(In):
    title: Title


class StreamUrlOut(BaseModel):
    url: str


class StorageOut(BaseModel):
    items: int
    used_bytes: int
    quota_bytes: int
    left_bytes: int


class UploadCreate(In):
    filename: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    size_bytes: int | None = Field(default=None, ge=0)


class UploadTargetOut(Out):
    url: str
    method: str
    fields: dict[str, str]
    headers: dict[str, str]
    file_field: str
    expires_at: datetime


class UploadOut(BaseModel):
    id: str
    target: UploadTargetOut


class UploadComplete(In):
    title: str | None = Field(default=None, max_length=TITLE_MAX)


class TtsIn(In):
    text: str = Field(min_length=1, max_length=100_000, pattern=NOT_BLANK)
    title: Title
    voice: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)


class TtsQuotaOut(BaseModel):
    remaining_today: int
    daily_chars: int
    max_chars: int


class VoiceOut(Out):
    id: str
    name: str
    language: str
    engine: str

    _record: ClassVar[type] = Voice
