"""Request and response bodies of the JSON API (pydantic), separate from the
records in `core.records` so the wire format can differ from storage.

Request bodies are strict (`extra="forbid"`, no coercion of `false` into 0),
and every constraint the services enforce is declared here as well, so the
OpenAPI document tells a client the truth. Output models copy the fields they
share with their record by name (`of`), so a new record field is one line here.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.records import AudioItem, User, Voice
from services.ingest import TITLE_MAX

# A text with something in it besides white space.
NOT_BLANK = r"\S"
Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK)]


class In(BaseModel):
    """A request body: unknown fields and loose types are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    """A response body built from a record of the same field names."""

    @classmethod
    def of(cls, record: Any) -> Self:
        values = asdict(record) if not isinstance(record, dict) else record
        return cls.model_validate({k: v for k, v in values.items() if k in cls.model_fields})


class ErrorOut(BaseModel):
    """Every refusal: a reason a person reads, sometimes with fields that help
    (the ids still using an item, the quota left)."""

    model_config = ConfigDict(extra="allow")
    detail: str


_REASONS = {
    400: "bad request",
    401: "not logged in, or the session ended",
    403: "not allowed (or the CSRF origin check failed)",
    404: "not found",
    409: "conflicts with the current state",
    413: "too large, or over the storage quota",
    415: "not a kind of content we accept",
    416: "range not satisfiable",
    422: "refused as invalid",
    429: "too many requests, or over a quota",
    502: "the Yoto cloud failed",
    503: "a backend is unavailable or busy; retry after the given seconds",
    504: "the Yoto cloud did not answer in time",
}


def ERRORS(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each refusal it can give, with the error body."""
    return {code: {"model": ErrorOut, "description": _REASONS[code]} for code in codes}


class LoginIn(In):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(In):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=256)


class MeOut(Out):
    username: str
    is_admin: bool


class UserOut(Out):
    username: str
    is_admin: bool
    disabled: bool
    created_at: datetime

    _record: ClassVar[type] = User


class UserCreate(In):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    password: str = Field(min_length=12, max_length=256)
    is_admin: bool = False


class UserPatch(In):
    password: str | None = Field(default=None, min_length=12, max_length=256)
    is_admin: bool | None = None
    disabled: bool | None = None


class AudioOut(Out):
    id: str
    title: str
    duration_s: float
    size_bytes: int
    format: str
    created_at: datetime
    owner: str
    source: str

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
