"""Usage records on their way to the store's staging table (`stage_usage_records`), from
which one statement a table adds them up into the stored usage.

Kept free of the database drivers: an import's reading processes encode the records of the
lines they check, and the process that holds the transaction passes the text on as it is
(PostgreSQL: COPY's text format; SQLite: rows for `executemany`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

# Records as a store takes them: COPY's text (PostgreSQL) or rows of values (SQLite).
StagedRecords = str | list[tuple[Any, ...]]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MINUTE_MICROS = 60_000_000
DAY_MICROS = 1440 * MINUTE_MICROS


# A record as an import makes it: the fields of a `UsageRecord`, without its names.
Record = tuple[int, str, str, float, int, bool]


class UsageRecord(NamedTuple):
    """One usage value: `line` orders records of the same time (the later line wins for a
    gauge), `micros` is its time in whole microseconds since the epoch (`micros_of`)."""

    line: int
    project_id: str
    metric: str
    value: float
    micros: int
    gauge: bool


def micros_of(at: datetime) -> int:
    """A time (with its zone) as whole microseconds since the epoch: exact, where a float
    timestamp may be a microsecond off."""
    return (at - EPOCH) // MICROSECOND


def period_of(at: datetime) -> str:
    """The billing period a time falls in: its calendar month, UTC (`2026-11`)."""
    return f"{at.year:04d}-{at.month:02d}"


@cache
def period_of_day(day: int) -> str:
    """The billing period of a day counted from the epoch."""
    return period_of(EPOCH + timedelta(days=day))


def encode_records(dialect: str, records: Iterable[Record]) -> StagedRecords:
    """Records as the dialect's store takes them, each with its billing period and day
    (counted from the epoch) worked out here rather than a row at a time in SQL (its minute
    is left to SQL: few records are recent enough to be counted by the minute). Project ids
    and metric names need no escaping (see `ids` and `usage.metrics`)."""
    if dialect == "sqlite":
        return [
            (line, project_id, metric, value, micros, gauge,
             period_of_day(micros // DAY_MICROS), micros // DAY_MICROS)
            for line, project_id, metric, value, micros, gauge in records
        ]  # fmt: skip
    return "".join([
        f"{line}\t{project_id}\t{metric}\t{value!r}\t{micros}\t{'t' if gauge else 'f'}\t"
        f"{period_of_day(micros // DAY_MICROS)}\t{micros // DAY_MICROS}\n"
        for line, project_id, metric, value, micros, gauge in records
    ])  # fmt: skip
