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
from types import UnionType
from typing import Annotated, Any, ClassVar, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from core import password_policy, usernames
from core.records import AudioItem, User, Voice
from core.usernames import name_of
from services.ingest import TITLE_MAX

# A text with something in it besides white space.
NOT_BLANK = r"\S"
Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK)]
# A new password as `core.password_policy` accepts it.
NewPassword = Annotated[
    str,
    StringConstraints(
        min_length=password_policy.MIN_LENGTH, max_length=password_policy.MAX_LENGTH, pattern=password_policy.PATTERN
    ),
]


def _takes_int_not_float(annotation: Any) -> bool:
    options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    bare = {get_args(o)[0] if get_origin(o) is Annotated else o for o in options}
    return int in bare and float not in bare


class In(BaseModel):
    """A request body: unknown fields and loose types are refused.

    One exception to strictness, as JSON Schema has it: a number with no
    fraction (2.0) is an integer, so an `int` field takes it (never `true`,
    "2" or 2.5)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        ints = {f.alias or name for name, f in cls.model_fields.items() if _takes_int_not_float(f.annotation)}
        return {
            key: int(value) if key in ints and isinstance(value, float) and value.is_integer() else value
            for key, value in data.items()
        }


class Out(BaseModel):
    """A response body built from a record of the same field names; an `owner`
    (a member id) is shown as the member's name."""

    @classmethod
    def of(cls, record: Any) -> Self:
        values = asdict(record) if not isinstance(record, dict) else record
        shown = {k: v for k, v in values.items() if k in cls.model_fields}
        if isinstance(shown.get("owner"), str):
            shown["owner"] = name_of(shown["owner"])
        return cls.model_validate(shown)


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
    new_password: NewPassword


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
    username: str = Field(min_length=1, max_length=usernames.MAX_LENGTH, pattern=usernames.PATTERN)
    password: NewPassword
    is_admin: bool = False


class UserPatch(In):
    password: NewPassword | None = None
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


class StoredOut(BaseModel):
    """What the local signed upload stored."""

    key: str
    size: int
    content_type: str


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
