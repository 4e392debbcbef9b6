"""Quota checks: each active project's usage in a billing period against its limits (its
plan's, from configuration, unless the project overrides them), found in one set-based
query, and what each finding calls for: a warning at each threshold, once; at 100 % of a
hard cap, a suspension."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pjobs.domain.usage import MAX_USAGE_TOTAL
from pjobs.errors import InvalidInputError, choice_hint

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.control.projects import Project
    from pjobs.settings.config import Settings

FULL = 100
log = logging.getLogger("pjobs.quotas")

Action = Literal["warn", "suspend", "protected"]


@dataclass(frozen=True)
class QuotaFinding:
    """One project's metric at or above a threshold of its quota."""

    project_id: str
    owner_id: str
    metric: str
    value: float
    limit: float
    hard: bool
    protected: bool
    percent: float
    thresholds: tuple[int, ...]  # every threshold reached (the warnings, and 100 at the cap)
    action: Action
    fresh: tuple[int, ...] = ()  # the thresholds reached that no check has warned of yet

    @property
    def top(self) -> int:
        return self.thresholds[-1]

    @property
    def acts_now(self) -> bool:
        """Whether a check run now does something about it: suspends, warns of a threshold
        not warned of yet, or reports a protected project newly at its cap."""
        if self.action == "suspend":
            return True
        return FULL in self.fresh if self.action == "protected" else bool(self.fresh)


def this_run(finding: QuotaFinding, report: LimitsReport | None) -> str:
    """What a check does about a finding, in words: what it would do (`report` None: a dry
    run), or what the check of `report` did."""
    if report is None:
        would = {"suspend": "would suspend", "protected": "would report", "warn": "would warn"}
        return would[finding.action] if finding.acts_now else "already warned"
    if not report.enforced:
        return "not enforced"
    if finding.action == "suspend":
        return "suspended" if finding.project_id in report.suspended else "left to another job"
    warned = {(w["project_id"], w["metric"]) for w in report.warned}
    if finding.action == "protected":
        return "reported" if finding.acts_now else "already warned"
    return "warned" if (finding.project_id, finding.metric) in warned else "already warned"


@dataclass
class LimitsReport:
    period: str
    scope: str  # "all" or the project ids
    checked: int
    findings: list[QuotaFinding]
    warned: list[dict[str, Any]] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # another lifecycle job held them
    # totals past MAX_USAGE_TOTAL (data of an earlier pjobs): reported, never acted on
    bad_data: list[dict[str, Any]] = field(default_factory=list)
    # active projects whose plan the configuration lost: no quota applies to them
    unknown_plans: list[str] = field(default_factory=list)
    enforced: bool = True

    def summary(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "checked": self.checked,
            "over_threshold": len(self.findings),
            "already_warned": sum(not f.acts_now for f in self.findings),
            "warned": len(self.warned),
            "suspended": len(self.suspended),
            "protected": len(self.protected),
            **({"bad_data": self.bad_data} if self.bad_data else {}),
            **({"unknown_plans": self.unknown_plans} if self.unknown_plans else {}),
        }


def plan_limits(settings: Settings) -> list[dict[str, Any]]:
    """The configured limits of every plan, as rows for the findings query."""
    return [
        {"plan": plan, "metric": metric, "quota_limit": q.limit, "hard": q.hard}
        for plan, limits in settings.quotas.plans.items()
        for metric, q in limits.items()
    ]


def _finding(
    row: dict[str, Any], warn_at: list[int], warned: set[tuple[str, str, int]]
) -> QuotaFinding:
    value, limit, hard = float(row["value"]), float(row["quota_limit"]), bool(row["hard"])
    percent = FULL if limit == 0 else value * 100 / limit
    # integer arithmetic for the boundaries: 80 % of 100 is reached by 80, not by 79.99
    reached = [t for t in warn_at if value * 100 >= t * limit]
    at_cap = value * 100 >= FULL * limit
    if at_cap:
        reached.append(FULL)
    action: Action = "warn"
    if at_cap and hard:
        action = "protected" if row["protected"] else "suspend"
    thresholds = tuple(reached) or (FULL,)
    key = (row["project_id"], row["metric"])
    return QuotaFinding(
        row["project_id"],
        row["owner_id"],
        row["metric"],
        value,
        limit,
        hard,
        bool(row["protected"]),
        round(percent, 2),
        thresholds,
        action,
        tuple(t for t in thresholds if (*key, t) not in warned),
    )


def evaluate(
    tx: ControlTx, settings: Settings, period: str, project_ids: list[str] | None
) -> LimitsReport:
    """Every finding of one check, from two queries whatever the number of projects."""
    warn_at = settings.quotas.warn_at
    rows = tx.quotas.findings(period, plan_limits(settings), warn_at[0], project_ids)
    sane = [row for row in rows if 0 <= float(row["value"]) <= MAX_USAGE_TOTAL]
    bad = [
        {"project_id": row["project_id"], "metric": row["metric"], "value": str(row["value"])}
        for row in rows
        if not 0 <= float(row["value"]) <= MAX_USAGE_TOTAL
    ]
    warned = tx.quotas.warned_in(period) if sane else set()
    unknown = tx.projects.of_unknown_plans(settings.quotas.plans)
    if project_ids is not None:
        unknown = [p for p in unknown if p in project_ids]
    if unknown:
        log.warning(
            "%d project(s) of a plan the configuration does not have: no quota applies "
            "to them: %s", len(unknown), ", ".join(unknown[:10]),
        )  # fmt: skip
    for each in bad:
        log.warning(
            "%s: its %s total %s is past the bound of a total (%g): not acted on; correct "
            "its usage",
            each["project_id"],
            each["metric"],
            each["value"],
            MAX_USAGE_TOTAL,
        )
    return LimitsReport(
        period=period,
        scope="all" if project_ids is None else ",".join(project_ids),
        checked=tx.quotas.count_active(project_ids),
        findings=[_finding(row, warn_at, warned) for row in sane],
        bad_data=bad,
        unknown_plans=unknown,
    )


def warning_rows(report: LimitsReport) -> list[dict[str, Any]]:
    """A row per threshold each finding reached, for `tx.quotas.record_warnings`."""
    return [
        {
            "project_id": f.project_id,
            "metric": f.metric,
            "period": report.period,
            "threshold": threshold,
            "value": f.value,
            "quota_limit": f.limit,
        }
        for f in report.findings
        for threshold in f.thresholds
    ]


def standing(
    tx: ControlTx, settings: Settings, project: Project, period: str
) -> list[dict[str, Any]]:
    """A project's usage in a period against its quotas: each metric with a value or a
    quota — value, limit, hard, percent, where the limit comes from (the project's own, or
    its plan's), the thresholds already warned about this period."""
    totals = {t.metric: t.value for t in tx.usage.totals(project.id, period)}
    overrides = {o.metric: o for o in tx.quotas.overrides(project.id)}
    warned: dict[str, list[int]] = {}
    for warning in tx.quotas.warnings(project.id, period):
        warned.setdefault(warning.metric, []).append(warning.threshold)
    plan = settings.quotas.plans.get(project.plan, {})
    rows = []
    for metric, kind in sorted(settings.usage.metrics.items()):
        value = totals.get(metric, 0.0)
        override = overrides.get(metric)
        quota = plan.get(metric)
        limit = override.quota_limit if override else quota.limit if quota else None
        hard = override.hard if override else quota.hard if quota else None
        if limit is None and metric not in totals:
            continue
        source = "project" if override else f"plan {project.plan}" if quota else None
        percent = None if not limit else round(value * 100 / limit, 2)
        rows.append(
            {"metric": metric, "kind": kind, "value": value, "limit": limit, "hard": hard}
            | {"percent": percent, "source": source, "warned": sorted(warned.get(metric, []))}
        )
    return rows


def known_plan(settings: Settings, plan: str) -> str:
    """`plan` if the configuration has it; InvalidInputError (65) naming the plans (and
    the one meant, if it is close) otherwise: a project of an unknown plan has no quotas
    at all."""
    plans = sorted(settings.quotas.plans)
    if plan in plans:
        return plan
    raise InvalidInputError(
        f"unknown plan {plan[:40]!r} (configured: {', '.join(plans) or 'none'})"
        + choice_hint(plan, plans)
    )
