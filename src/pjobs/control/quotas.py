"""Quotas as stored: per-project overrides of the plan limits, the warnings already sent
(each threshold once per project, metric and period), and the record of every check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT


@dataclass(frozen=True)
class QuotaOverride:
    project_id: str
    metric: str
    quota_limit: float
    hard: bool
    updated_at: datetime


@dataclass(frozen=True)
class QuotaWarning:
    project_id: str
    metric: str
    period: str
    threshold: int
    value: float
    quota_limit: float
    sent_at: datetime
    job_id: int | None


@dataclass(frozen=True)
class QuotaCheck:
    id: int
    at: datetime
    actor: str
    job_id: int | None
    period: str
    scope: str
    enforced: bool
    checked: int
    warned: int
    suspended: int
    protected: int
    findings: Annotated[list[dict[str, Any]], JSON_TEXT]


class Quotas(Noun):
    def set_override(self, project_id: str, metric: str, limit: float, hard: bool) -> None:
        """Set (or replace) a project's own limit for a metric."""
        self.tx.run(
            "set_quota_override", project_id=project_id, metric=metric, quota_limit=limit, hard=hard
        )

    def unset_override(self, project_id: str, metric: str) -> bool:
        """Drop a project's own limit (its plan's applies again); False if it had none."""
        cursor = self.tx.run("unset_quota_override", project_id=project_id, metric=metric)
        return bool(cursor.rowcount == 1)

    def overrides(self, project_id: str) -> list[QuotaOverride]:
        """A project's own limits, by metric."""
        return self.tx.records(QuotaOverride, "quota_overrides", project_id=project_id)

    def findings(
        self, period: str, limits: list[dict[str, Any]], min_percent: int, ids: list[str] | None
    ) -> list[dict[str, Any]]:
        """Active projects' usage at or above `min_percent` of their quota in one query."""
        return self.tx.rows(
            "quota_findings",
            period=period,
            limits=json.dumps(limits),
            min_percent=min_percent,
            ids=None if ids is None else self.tx.store.array(ids),
        )

    def count_active(self, ids: list[str] | None) -> int:
        """How many active projects a check covers."""
        ids_param = None if ids is None else self.tx.store.array(ids)
        row = self.tx.row("count_active_projects", ids=ids_param)
        return int(row["checked"]) if row else 0

    def record_warnings(
        self, rows: Sequence[dict[str, Any]], job_id: int | None
    ) -> set[tuple[str, str, int]]:
        """Insert warning rows; the (project, metric, threshold) of those that are new."""
        if not rows:
            return set()
        inserted = self.tx.rows("insert_quota_warnings", rows=json.dumps(rows), job_id=job_id)
        return {(r["project_id"], r["metric"], int(r["threshold"])) for r in inserted}

    def warned_in(self, period: str) -> set[tuple[str, str, int]]:
        """The (project, metric, threshold) of every warning sent in a period."""
        rows = self.tx.rows("warned_in_period", period=period)
        return {(r["project_id"], r["metric"], int(r["threshold"])) for r in rows}

    def warnings(self, project_id: str, period: str) -> list[QuotaWarning]:
        """The warnings sent to a project in one period."""
        return self.tx.records(
            QuotaWarning, "quota_warnings_of", project_id=project_id, period=period
        )

    def record_check(self, check: dict[str, Any]) -> int:
        """Record a check (the seed's `recordQuotaCheck`); its id."""
        row = self.tx.row(
            "insert_quota_check", **{**check, "findings": json.dumps(check["findings"])}
        )
        assert row is not None
        return int(row["id"])

    def checks(self, limit: int = 100, offset: int = 0) -> list[QuotaCheck]:
        """The latest checks, newest first."""
        return self.tx.records(QuotaCheck, "list_quota_checks", limit=limit, offset=offset)
