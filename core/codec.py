"""Record codecs: a record's fields become a row or item, and back, without
listing them by hand in every adapter.

A `RecordCodec` reads the fields of one record dataclass (`core.records`) and
their type hints once. Each backend supplies a table of `Conversion`s by field
kind (`str`, `int`, `float`, `bool`, `datetime`, `tuple`, `dict`): SQLite keeps
times as integer microseconds, DynamoDB as ISO text, and so on. A new field on
a record is then one line in `core/records.py`; every backend stores it, and a
field of a kind a backend has no conversion for fails when the codec is built
(at import), not when the first record is written.

Loading ignores attributes the record does not have (keys, index helpers such
as `title_fold`) and gives a field its dataclass default when the row has no
value for it, so rows written before a field existed still load.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

R = TypeVar("R")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class Conversion:
    """How one kind of field is written (`dump`) and read back (`load`)."""

    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


IDENTITY = Conversion(_same, _same)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: type  # str, int, float, bool, datetime, tuple, dict, ...
    optional: bool  # the hint admits None
    has_default: bool
    default: Callable[[], Any] | None  # makes the default value, when there is one
    factory: bool = False  # the default is made afresh per record (default_factory)


def _kind(hint: Any) -> tuple[type, bool]:
    """(base kind, optional) of a type hint: `str | None` -> (str, True), `tuple[str, ...]` -> (tuple, False)."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"a record field may be one type or None, not {hint!r}")
        hint = args[0]
    origin = typing.get_origin(hint)
    base = origin if origin is not None else hint
    if not isinstance(base, type):
        raise TypeError(f"unsupported record field type {hint!r}")
    return base, optional


def record_fields(record_type: type) -> tuple[FieldSpec, ...]:
    """The fields of a record dataclass with their resolved kinds, in declaration order."""
    if not dataclasses.is_dataclass(record_type):
        raise TypeError(f"{record_type!r} is not a dataclass")
    hints = typing.get_type_hints(record_type)
    specs = []
    for f in dataclasses.fields(record_type):
        kind, optional = _kind(hints[f.name])
        if f.default is not dataclasses.MISSING:
            value = f.default
            default: Callable[[], Any] | None = lambda value=value: value  # noqa: E731 - bound per field
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory
        else:
            default = None
        factory = f.default_factory is not dataclasses.MISSING
        specs.append(FieldSpec(f.name, kind, optional, default is not None, default, factory))
    return tuple(specs)


class RecordCodec(Generic[R]):
    """One record type <-> a flat dict of backend values, through a table of conversions by kind."""

    def __init__(self, record_type: type[R], conversions: Mapping[type, Conversion]) -> None:
        self.record_type = record_type
        self.fields = record_fields(record_type)
        self._by_name = {f.name: f for f in self.fields}
        missing = sorted({f.kind.__name__ for f in self.fields if f.kind not in conversions})
        if missing:
            raise TypeError(f"no conversion for {record_type.__name__} fields of kind {', '.join(missing)}")
        self._conv = {f.name: conversions[f.kind] for f in self.fields}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        return self._by_name[name]

    def dump_value(self, name: str, value: Any) -> Any:
        if value is None:
            if not self._by_name[name].optional:
                raise ValueError(f"{self.record_type.__name__}.{name} must not be None")
            return None
        return self._conv[name].dump(value)

    def dump(self, record: R, *, only: Iterable[str] | None = None) -> dict[str, Any]:
        """Every field (or those named in `only`) as backend values; raises before
        returning when one cannot be stored, so nothing half-converted is written."""
        names = self.names if only is None else tuple(only)
        return {n: self.dump_value(n, getattr(record, n)) for n in names}

    def dump_values(self, **values: Any) -> dict[str, Any]:
        """Some fields' new values (an update) as backend values."""
        return {n: self.dump_value(n, v) for n, v in values.items()}

    def load_value(self, name: str, raw: Any) -> Any:
        return None if raw is None else self._conv[name].load(raw)

    def load(self, row: Mapping[str, Any], **overrides: Any) -> R:
        """The record from a row or item; `overrides` are field values already in record form."""
        kwargs: dict[str, Any] = {}
        for f in self.fields:
            if f.name in overrides:
                kwargs[f.name] = overrides[f.name]
            elif f.name in row:
                kwargs[f.name] = self.load_value(f.name, row[f.name])
            elif f.has_default:
                kwargs[f.name] = f.default()  # type: ignore[misc]
            else:
                raise KeyError(f"stored {self.record_type.__name__} has no {f.name!r}")
        return self.record_type(**kwargs)


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments that were given (not None): the fields an update changes."""
    return {name: value for name, value in values.items() if value is not None}


# --------------------------------------------------------------------------- conversions more than one backend uses


def aware(moment: datetime) -> datetime:
    """Refuse a naive datetime: guessing its zone would silently shift the record in time."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"times must be timezone-aware datetimes, got {moment!r}")
    return moment


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (UTC); exact, and ordered like the times."""
    return (aware(moment) - EPOCH) // _MICRO


def from_us(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def dump_json(value: Any) -> str:
    """Serialise before any write, so a value JSON cannot hold fails with nothing stored."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"value cannot be stored as JSON: {exc}") from exc


def ids_tuple(ids: Iterable[str]) -> tuple[str, ...]:
    """A sequence of id strings as a tuple; a bare string or a non-string member is refused."""
    if isinstance(ids, str):
        raise ValueError(f"ids must be a sequence of id strings, got {ids!r}")
    out = tuple(ids)
    if not all(isinstance(i, str) for i in out):
        raise ValueError(f"ids must be a sequence of id strings, got {out!r}")
    return out


JSON_TEXT = Conversion(dump_json, json.loads)
MICROS = Conversion(to_us, from_us)
# Plain values every backend keeps as they are (numbers come back as the field's own type).
SCALARS: dict[type, Conversion] = {
    str: IDENTITY,
    int: Conversion(int, int),
    float: Conversion(float, float),
    bool: Conversion(bool, bool),
}
