"""Usage as stored: totals per project, metric and billing period (counters add up, gauges
keep the latest value), per-minute and per-day request and error counts, and the cached
baselines of the abuse scan."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from pjobs.control.noun import Noun
from pjobs.errors import NotFoundError
from pjobs.store.staging import (
    DAY_MICROS,
    MINUTE_MICROS,
    StagedRecords,
    UsageRecord,
    encode_records,
    micros_of,
    period_of_day,
)


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


@dataclass(frozen=True)
class UsageImport:
    """An import's content, by its SHA-256, and when and by whom it was imported."""

    sha256: str
    lines: int
    records: int
    imported_at: datetime
    requested_by: str | None


class Usage(Noun):
    def add(self, records: Sequence[UsageRecord], minutes_from: datetime) -> None:
        """Add usage records to the totals and the per-day counts, and to the per-minute
        counts from `minutes_from` on (older ones would be pruned); NotFoundError, adding
        nothing, if a record's project does not exist."""
        self.begin_staging()
        self.stage(encode_records(self.tx.store.dialect, records))
        _, unknown, lines = self.staged_projects(1)
        if unknown:
            raise NotFoundError(f"no project {lines[0][1][:60]}")
        self.merge(minutes_from, {period_of_day(r.micros // DAY_MICROS) for r in records})

    # The bulk path: records staged (`stage`, as many times as needed), checked for their
    # projects (`staged_projects`), then added up into each table by one statement (`merge`).
    # The check is the only one: usage rows carry no reference to their project (migration
    # 0011), so nothing may be merged before it.

    def begin_staging(self) -> None:
        """An empty staging table for this transaction's records."""
        self.tx.store.stage_usage(self.tx.cursor, None)

    def stage(self, records: StagedRecords) -> None:
        """Records encoded by `staging.encode_records` into the staging table."""
        self.tx.store.stage_usage(self.tx.cursor, records)

    def staged_projects(self, shown: int) -> tuple[int, int, list[tuple[int, str]]]:
        """How many of the staged records' projects exist, how many records are of projects
        that do not, and the first `shown` of those (line, project id)."""
        rows = self.tx.rows("staged_usage_projects", shown=shown)
        unknown = [(int(r["line"]), r["project_id"]) for r in rows if r["line"] is not None]
        return int(rows[0]["projects"]), int(rows[0]["unknown"] or 0), unknown

    def count_projects(self, project_ids: Collection[str]) -> int:
        """How many of `project_ids` (distinct, well-formed) are projects."""
        rows = self.tx.rows("count_projects_named", ids="\n".join(project_ids))
        return int(rows[0]["projects"])

    def merge(self, minutes_from: datetime, periods: Collection[str]) -> None:
        """Add the staged records up into the totals and the per-day counts, and into the
        per-minute counts from `minutes_from` on: one statement a table. `periods`: the
        billing periods of the staged records (the totals of others are not looked at)."""
        first_minute = micros_of(minutes_from) // MINUTE_MICROS * MINUTE_MICROS  # its start
        in_periods = self.tx.store.array(sorted(periods))
        self.tx.run("lock_usage")
        for query in ("merge_usage_counters", "merge_usage_gauges"):
            self.tx.run(query, periods=in_periods)
        self.tx.run("merge_usage_days")
        self.tx.run("merge_usage_minutes", from_micros=first_minute)

    def record_import(
        self, sha256: str, lines: int, records: int, requested_by: str | None
    ) -> UsageImport | None:
        """Record an import of content with this SHA-256; None if this call recorded it,
        else the import that had (its records must not be added again)."""
        params = {"lines": lines, "records": records, "requested_by": requested_by}
        if self.tx.row("record_usage_import", sha256=sha256, **params) is not None:
            return None
        found = self.tx.records(UsageImport, "usage_import_of", sha256=sha256)
        return found[0] if found else None

    def totals(self, project_id: str, period: str) -> list[UsageTotal]:
        """A project's totals in one billing period, by metric."""
        return self.tx.records(UsageTotal, "usage_totals", project_id=project_id, period=period)

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
        self.tx.run("lock_usage")
        self.tx.run("prune_usage_minutes", before=minutes_before)
        self.tx.run("prune_usage_days", before=days_before)
