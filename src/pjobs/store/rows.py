"""Rows by column name: a cursor's rows as dicts, and records (dataclasses) built from
them by the types of their fields, so adding a column never shifts another."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, Protocol, TypeVar

R = TypeVar("R")

# Markers for `Annotated[..., JSON_TEXT]` fields.
JSON_TEXT = "json-text"  # a JSON document kept as text by both dialects
JSON_VALUE = "json-value"  # jsonb on PostgreSQL (decoded by the driver), text on SQLite


class Codec(Protocol):
    """How a dialect's values become Python's (the store provides it)."""

    def from_ts(self, value: Any) -> datetime: ...

    def from_day(self, value: Any) -> date: ...

    def from_json(self, value: Any) -> Any: ...


def dict_rows(cursor: Any) -> list[dict[str, Any]]:
    """Every remaining row of `cursor`, each as {column: value}."""
    rows = cursor.fetchall()
    if not rows:
        return []
    names = column_names(cursor)
    return [dict(zip(names, row, strict=True)) for row in rows]


def column_names(cursor: Any) -> list[str]:
    """The names of the result's columns. psycopg's `description` builds an object a
    column, each time it is read; the result itself has the names at hand."""
    result = getattr(cursor, "pgresult", None)
    if result is None:
        return [column[0] for column in cursor.description]
    return [result.fname(i).decode() for i in range(result.nfields)]


def _json_text(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


Convert = Callable[[Codec, Any], Any]


def _converter(hint: Any) -> Convert | None:
    extras = getattr(hint, "__metadata__", ())
    if JSON_TEXT in extras:
        return lambda codec, value: None if value is None else _json_text(value)
    if JSON_VALUE in extras:
        return lambda codec, value: codec.from_json(value)
    if hint is datetime:
        return lambda codec, value: codec.from_ts(value)
    if datetime in typing.get_args(hint):  # datetime | None
        return lambda codec, value: None if value is None else codec.from_ts(value)
    if hint is date:
        return lambda codec, value: codec.from_day(value)
    if hint is bool:
        return lambda codec, value: bool(value)
    return None


@cache
def _plan(cls: type[Any]) -> tuple[tuple[str, Convert | None], ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple((field.name, _converter(hints[field.name])) for field in dataclasses.fields(cls))


def build(cls: type[R], row: Mapping[str, Any], codec: Codec) -> R:
    """A `cls` from the row's columns of the same names (other columns are ignored)."""
    plan = _plan(cls)  # type: ignore[arg-type]
    values = {
        name: row[name] if convert is None else convert(codec, row[name]) for name, convert in plan
    }
    return cls(**values)
