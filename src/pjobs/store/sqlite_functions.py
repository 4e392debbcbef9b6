"""SQL functions SQLite lacks, written in Python and registered on every connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, cast


class Median:
    """`median(x)`: the middle value of a group, or the mean of the two middle ones (NULLs
    ignored; NULL for an empty group). PostgreSQL's `percentile_cont(0.5)`: SQLite's
    window functions sort every row of the table read to find it, several times slower."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        if not self.values:
            return None
        values = sorted(self.values)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def register(conn: sqlite3.Connection) -> None:
    # typeshed has an aggregate's result an int; SQLite takes any SQL value
    conn.create_aggregate("median", 1, cast("Callable[[], Any]", Median))
