"""What every request and response body of the JSON API shares: strict `In`
bodies, `Out` bodies built from a record's fields (`of`), the error body and
`ERRORS(...)` for a route's refusals. The models are apart from
`core.records` so the wire format can differ from storage (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import asdict
from types import UnionType
from typing import Annotated, Any, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from core import password_policy
from core.usernames import name_of

# A text with something in it besides white space.
NOT_BLANK = r"\S"
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
