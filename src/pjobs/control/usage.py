"""Usage as stored: totals per project, metric and billing period (counters add up, gauges
keep the latest value), per-minute and per-day request and error counts, and the cached
baselines of the abuse scan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from pjobs.control.noun import Noun

# The metrics whose values also feed the per-minute and per-day counts: their places in a row.
RATE_COLUMNS = {"requests": 2, "errors": 3}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MINUTE_MICROS = 60_000_000


def period_of(at: datetime) -> str:
    """The billing period a time falls in: its calendar month, UTC (`2026-11`)."""
    return f"{at.year:04d}-{at.month:02d}"


class ScanLimits(NamedTuple):
    """The thresholds of the abuse patterns a scan looks for candidates of."""

    minutes: float  # the window's length
    usage_ratio: float
    min_requests: int
    error_rate: float


@dataclass(frozen=True)
class UsageTotal:
    project_id: str
    metric: str
    period: str
    value: float
    measured_at: datetime


@dataclass
class UsageBatch:
    """Usage records added up per row they change, so a large import writes each row of
    each table once per batch. Each row is kept as the list the store writes: times as
    whole microseconds, minutes and days since the epoch, which the store's SQL turns into
    its times and dates (turning every record's time into a datetime and then text in
    Python would cost more than all the rest); per-minute counts only from `minutes_from`
    on (see `since`)."""

    # Per-minute counts start here (minutes since the epoch): older ones would be pruned.
    minutes_from: int = 0
    # (period, project, metric): [period, project, metric, value, microseconds of the
    # latest record]; a counter's value is its sum, a gauge's the latest
    counters: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    gauges: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    # (minute or day, project): [minute or day, project, requests, errors]
    minutes: dict[tuple[int, str], list[Any]] = field(default_factory=dict)
    days: dict[tuple[int, str], list[Any]] = field(default_factory=dict)
    records: int = 0

    @classmethod
    def since(cls, oldest_minute: datetime) -> UsageBatch:
        """A batch that keeps per-minute counts from `oldest_minute` on."""
        return cls(minutes_from=micros_of(oldest_minute) // MINUTE_MICROS)

    def add(self, project_id: str, metric: str, value: float, micros: int, gauge: bool) -> None:
        """Add one record; `micros` is its time (see `micros_of`)."""
        self.records += 1
        minute = micros // MINUTE_MICROS
        day = minute // 1440
        period = _period(day)
        key = (period, project_id, metric)
        if gauge:
            total = self.gauges.get(key)
            if total is None:
                self.gauges[key] = [period, project_id, metric, value, micros]
            elif micros >= total[4]:
                total[3], total[4] = value, micros
        else:
            total = self.counters.get(key)
            if total is None:
                self.counters[key] = [period, project_id, metric, value, micros]
            else:
                total[3] += value
                if micros > total[4]:
                    total[4] = micros
        column = RATE_COLUMNS.get(metric)
        if column is not None:
            counts = self.days.get((day, project_id))
            if counts is None:
                counts = self.days[(day, project_id)] = [day, project_id, 0.0, 0.0]
            counts[column] += value
            if minute >= self.minutes_from:
                counts = self.minutes.get((minute, project_id))
                if counts is None:
                    counts = self.minutes[(minute, project_id)] = [minute, project_id, 0.0, 0.0]
                counts[column] += value

    @property
    def size(self) -> int:
        """Distinct rows in all tables: the measure of a batch's memory."""
        return len(self.counters) + len(self.gauges) + len(self.minutes) + len(self.days)

    def rows(self) -> dict[str, list[list[Any]]]:
        """The rows to write, by query."""
        return {
            "add_usage_counters": list(self.counters.values()),
            "add_usage_gauges": list(self.gauges.values()),
            "add_usage_minutes": list(self.minutes.values()),
            "add_usage_days": list(self.days.values()),
        }

    def __len__(self) -> int:
        return self.records


def micros_of(at: datetime) -> int:
    """A time (with its zone) as whole microseconds since the epoch: exact, where a float
    timestamp may be a microsecond off."""
    return (at - EPOCH) // MICROSECOND


@cache
def _period(day: int) -> str:
    found = EPOCH + timedelta(days=day)
    return f"{found.year:04d}-{found.month:02d}"


class Usage(Noun):
    def add(self, batch: UsageBatch) -> None:
        """Add a batch of usage records to the totals and the per-minute and per-day counts,
        one statement a table (the store's bulk path)."""
        for query, rows in batch.rows().items():
            if rows:
                self.tx.store.write_batch(self.tx.cursor, query, rows)

    def totals(self, project_id: str, period: str) -> list[UsageTotal]:
        """A project's totals in one billing period, by metric."""
        return self.tx.records(UsageTotal, "usage_totals", project_id=project_id, period=period)

    def existing_projects(self, project_ids: Sequence[str]) -> set[str]:
        """Which of these project ids exist."""
        rows = self.tx.rows("existing_projects", ids=self.tx.store.array(list(project_ids)))
        return {row["id"] for row in rows}

    def scan_window(
        self, since: datetime, until: datetime, ids: list[str] | None, limits: ScanLimits
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many active projects had requests in [since, until), and those of them for
        which a pattern may hold (`limits`: its thresholds): their requests, errors,
        cached baseline and protected flag (one query, however many projects)."""
        ids_param = None if ids is None else self.tx.store.array(ids)
        rows = self.tx.rows(
            "scan_window", since=since, until=until, ids=ids_param, **limits._asdict()
        )
        checked = int(rows[0]["checked"]) if rows else 0
        return checked, [row for row in rows if row["project_id"] is not None]

    def window_of(self, project_id: str, since: datetime, until: datetime) -> tuple[float, float]:
        """One project's requests and errors in [since, until)."""
        row = self.tx.row("window_usage_of", project_id=project_id, since=since, until=until)
        return (float(row["requests"] or 0), float(row["errors"] or 0)) if row else (0.0, 0.0)

    def baselines_computed_at(self) -> datetime | None:
        """When the cached baselines were computed (None: never, or none exist)."""
        row = self.tx.row("oldest_baseline")
        return self.tx.store.from_ts_or_none(row["computed_at"]) if row else None

    def recompute_baselines(self, today: date, days: int) -> None:
        """Replace every cached baseline by the median per-minute rate of the project's
        complete days in [today - days, today) that had traffic."""
        self.tx.run("clear_baselines")
        self.tx.run("compute_baselines", first_day=today - timedelta(days=days), today=today)

    def baseline_of(self, project_id: str) -> float | None:
        """One project's cached baseline (None: it has none)."""
        row = self.tx.row("baseline_of", project_id=project_id)
        return float(row["requests_per_minute"]) if row else None

    def prune(self, minutes_before: datetime, days_before: date) -> None:
        """Drop per-minute and per-day counts older than the retention."""
        self.tx.run("prune_usage_minutes", before=minutes_before)
        self.tx.run("prune_usage_days", before=days_before)
