"""Usage as stored: totals per project, metric and billing period (counters add up, gauges
keep the latest value), per-minute and per-day request and error counts, and the cached
baselines of the abuse scan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from pjobs.control.noun import Noun

# The metrics whose values also feed the per-minute and per-day counts, and their columns.
RATE_COLUMNS = {"requests": 0, "errors": 1}


def period_of(at: datetime) -> str:
    """The billing period a time falls in: its calendar month, UTC (`2026-11`)."""
    return f"{at.year:04d}-{at.month:02d}"


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
    each table once per batch. Minutes and days are kept as integers since the epoch until
    the batch is written (turning every record's time into two datetimes would cost more
    than all the rest); per-minute counts only from `minutes_from` on (see `since`)."""

    # Per-minute counts start here (minutes since the epoch): older ones would be pruned.
    minutes_from: int = 0
    totals: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    minutes: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    days: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    records: int = 0

    @classmethod
    def since(cls, oldest_minute: datetime) -> UsageBatch:
        """A batch that keeps per-minute counts from `oldest_minute` on."""
        return cls(minutes_from=int(oldest_minute.timestamp()) // 60)

    def add(self, project_id: str, metric: str, value: float, at: datetime, gauge: bool) -> None:
        self.records += 1
        seconds = at.timestamp()  # compared and bucketed as a number: much cheaper
        minute = int(seconds) // 60
        key = (_period(minute // 1440), project_id, metric)
        total = self.totals.get(key)
        if total is None:
            self.totals[key] = [value, seconds, gauge]
        elif not gauge:
            total[0] += value
            if seconds > total[1]:
                total[1] = seconds
        elif seconds >= total[1]:
            total[0], total[1] = value, seconds
        column = RATE_COLUMNS.get(metric)
        if column is not None:
            day = self.days.get((project_id, minute // 1440))
            if day is None:
                day = self.days[(project_id, minute // 1440)] = [0.0, 0.0]
            day[column] += value
            if minute >= self.minutes_from:
                counts = self.minutes.get((minute, project_id))
                if counts is None:
                    counts = self.minutes[(minute, project_id)] = [0.0, 0.0]
                counts[column] += value

    def rows(
        self, ts: Callable[[datetime], Any], day: Callable[[date], Any]
    ) -> dict[str, list[Any]]:
        """The rows to write, by query, with times and days as the store takes them
        (`ts`, `day`), each distinct one converted once."""
        minutes = {m: ts(_minute(m)) for m, _ in self.minutes}
        days = {d: day(_day(d)) for _, d in self.days}
        totals = self.totals.items()
        return {
            "add_usage_counters": [
                (*k, v, ts(_at(at))) for k, (v, at, gauge) in totals if not gauge
            ],
            "add_usage_gauges": [(*k, v, ts(_at(at))) for k, (v, at, gauge) in totals if gauge],
            "add_usage_minutes": [(minutes[m], p, r, e) for (m, p), (r, e) in self.minutes.items()],
            "add_usage_days": [(p, days[d], r, e) for (p, d), (r, e) in self.days.items()],
        }

    def __len__(self) -> int:
        return self.records


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@cache
def _minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


@cache
def _day(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


@cache
def _period(day: int) -> str:
    found = _day(day)
    return f"{found.year:04d}-{found.month:02d}"


class Usage(Noun):
    def add(self, batch: UsageBatch) -> None:
        """Add a batch of usage records to the totals and the per-minute and per-day counts,
        one statement a table (the store's bulk path)."""
        store = self.tx.store
        for query, rows in batch.rows(store.ts, store.day).items():
            if rows:
                store.write_batch(self.tx.cursor, query, rows)

    def totals(self, project_id: str, period: str) -> list[UsageTotal]:
        """A project's totals in one billing period, by metric."""
        return self.tx.records(UsageTotal, "usage_totals", project_id=project_id, period=period)

    def existing_projects(self, project_ids: Sequence[str]) -> set[str]:
        """Which of these project ids exist."""
        rows = self.tx.rows("existing_projects", ids=self.tx.store.array(list(project_ids)))
        return {row["id"] for row in rows}

    def scan_window(
        self, since: datetime, until: datetime, ids: list[str] | None
    ) -> list[dict[str, Any]]:
        """Every active project with requests in [since, until): its requests, errors,
        cached baseline and protected flag (one query, however many projects)."""
        ids_param = None if ids is None else self.tx.store.array(ids)
        return self.tx.rows("scan_window", since=since, until=until, ids=ids_param)

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
