"""Usage records on their way to the store's staging table (`stage_usage_records`), from
which one statement a table adds them up into the stored usage.

Kept free of the database drivers: an import's reading processes encode the records of the
lines they check, and the process that holds the transaction passes the text on as it is
(PostgreSQL: COPY's text format; SQLite: a JSON array of rows, split by SQLite in C)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

import orjson

# Records as a store takes them: COPY's text (PostgreSQL) or a JSON array of rows (SQLite).
StagedRecords = str

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MINUTE_MICROS = 60_000_000
DAY_MICROS = 1440 * MINUTE_MICROS


# A record as staged: line, project id, metric, value and time, the metric (with whether it
# is a gauge) and the time (with its billing period and day) in the dialect's encoding
# (`metric_part`, `time_part`): encoded once for all the records that share them.
StagedRecord = tuple[int, str, Any, float, Any]


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


def metric_part(dialect: str, metric: str, gauge: bool) -> Any:
    """A metric's columns of a staged record (metric, gauge) in the dialect's encoding."""
    if dialect == "sqlite":
        return metric, gauge
    return f"{metric}\t{'t' if gauge else 'f'}"


def time_part(dialect: str, micros: int) -> Any:
    """A time's columns of a staged record (micros, billing period, day counted from the
    epoch) in the dialect's encoding: worked out here rather than a row at a time in SQL (the
    minute is left to SQL: few records are recent enough to be counted by the minute)."""
    day = micros // DAY_MICROS
    if dialect == "sqlite":
        return micros, period_of_day(day), day
    return f"{micros}\t{period_of_day(day)}\t{day}\n"


def encode_staged(dialect: str, records: list[StagedRecord]) -> StagedRecords:
    """Staged records as the dialect's store takes them. Project ids and metric names need
    no escaping (see `ids` and `usage.metrics`)."""
    if dialect == "sqlite":
        return orjson.dumps(
            [
                (line, project_id, *metric, value, *at)
                for line, project_id, metric, value, at in records
            ]
        ).decode()
    return "".join(
        [
            f"{line}\t{project_id}\t{metric}\t{value!r}\t{at}"
            for line, project_id, metric, value, at in records
        ]
    )


def encode_records(dialect: str, records: Iterable[UsageRecord]) -> StagedRecords:
    """Usage records as the dialect's store takes them."""
    return encode_staged(
        dialect,
        [
            (
                r.line,
                r.project_id,
                metric_part(dialect, r.metric, r.gauge),
                r.value,
                time_part(dialect, r.micros),
            )
            for r in records
        ],
    )
