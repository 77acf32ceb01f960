"""Request and response bodies of the JSON API (pydantic), separate from the
records in `core.records` so the wire format can differ from storage."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.records import AudioItem, User, Voice

TITLE_MAX = 200


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(BaseModel):
    username: str
    is_admin: bool


class UserOut(BaseModel):
    username: str
    is_admin: bool
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(username=user.username, is_admin=user.is_admin, disabled=user.disabled, created_at=user.created_at)


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    password: str
    is_admin: bool = False


class UserPatch(BaseModel):
    password: str | None = None
    is_admin: bool | None = None
    disabled: bool | None = None


class AudioOut(BaseModel):
    id: str
    title: str
    duration_s: float
    size_bytes: int
    format: str
    created_at: datetime
    owner: str
    source: str

    @classmethod
    def of(cls, item: AudioItem) -> AudioOut:
        return cls(
            id=item.id,
            title=item.title,
            duration_s=item.duration_s,
            size_bytes=item.size_bytes,
            format=item.format,
            created_at=item.created_at,
            owner=item.owner,
            source=item.source,
        )


class AudioPage(BaseModel):
    items: list[AudioOut]
    next_cursor: str | None = None


class AudioPatch(BaseModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX)


class StreamUrlOut(BaseModel):
    url: str


class UploadCreate(BaseModel):
    filename: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    size_bytes: int | None = Field(default=None, ge=0)


class UploadTargetOut(BaseModel):
    url: str
    method: str
    fields: dict[str, str]
    headers: dict[str, str]
    file_field: str
    expires_at: datetime


class UploadOut(BaseModel):
    id: str
    target: UploadTargetOut


class UploadComplete(BaseModel):
    title: str | None = Field(default=None, max_length=TITLE_MAX)


class TtsIn(BaseModel):
    text: str
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    voice: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)


class VoiceOut(BaseModel):
    id: str
    name: str
    language: str
    engine: str

    @classmethod
    def of(cls, voice: Voice) -> VoiceOut:
        return cls(id=voice.id, name=voice.name, language=voice.language, engine=voice.engine)
