"""`check_usage_limits`: every active project's usage against its quotas, in one pass:
warnings at each threshold (once per project, metric and period), suspension at 100 % of
a hard cap, and a record of the check."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pjobs import ids
from pjobs.control import ControlTx
from pjobs.domain import quotas
from pjobs.domain.events import announce_many
from pjobs.handlers.lifecycle import ProjectsScope
from pjobs.handlers.suspension import suspend_many
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType
from pjobs.queue.retry import RetryPolicy
from pjobs.store.staging import period_of


class CheckLimitsPayload(ProjectsScope):
    period: str | None = Field(None, pattern=ids.PERIOD.pattern)  # default: this month


def check_usage_limits(payload: CheckLimitsPayload, context: JobContext) -> dict[str, Any]:
    """Finds every active project at or above a threshold of a quota (one set-based query);
    with `enforce`, warns each owner once per threshold, metric and period (also when two
    checks run at once), suspends projects at 100 % of a hard cap (protected ones are
    reported to the operators instead), and emits `quota.warning` and `project.suspended`.
    Every check is recorded (`tx.quotas.record_check`)."""
    with context.tx() as tx:
        period = payload.period or period_of(tx.now)
        report = quotas.evaluate(tx, context.settings, period, payload.selected)
        report.enforced = payload.enforce
        if payload.enforce:
            enforce(context, tx, report)
        summary = report.summary()
        tx.quotas.record_check(
            {
                "actor": context.actor,
                "job_id": context.job_id,
                "period": period,
                "scope": report.scope,
                "enforced": payload.enforce,
                "checked": report.checked,
                "warned": len(report.warned),
                "suspended": len(report.suspended),
                "protected": len(report.protected),
                "findings": [finding_json(f, report) for f in report.findings],
            }
        )
    context.notifier.deliver_due()
    return {**summary, "findings": [finding_json(f, report) for f in report.findings]}


def number(value: float) -> str:
    """1,000,000 rather than 1e+06."""
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"


def finding_json(
    finding: quotas.QuotaFinding, report: quotas.LimitsReport | None
) -> dict[str, Any]:
    """A finding as checks record and print it, with what the check of `report` did about
    it (None: what a check would do now)."""
    return {
        "project_id": finding.project_id,
        "metric": finding.metric,
        "value": finding.value,
        "limit": finding.limit,
        "percent": finding.percent,
        "hard": finding.hard,
        "action": finding.action,
        "this_run": quotas.this_run(finding, report),
    }


def enforce(context: JobContext, tx: ControlTx, report: quotas.LimitsReport) -> None:
    """Send what this check is the first to find, suspend what is over a hard cap. The
    warnings of a check go out in a few statements, however many there are."""
    new = tx.quotas.record_warnings(quotas.warning_rows(report), context.job_id)
    warnings: list[tuple[str | None, dict[str, Any]]] = []
    messages: list[tuple[str, str | None, str, str]] = []
    caps: dict[str, list[tuple[quotas.QuotaFinding, str]]] = {}  # project: hard caps reached
    for finding in report.findings:
        fresh = [t for t in finding.thresholds if (finding.project_id, finding.metric, t) in new]
        figures = (
            f"{finding.metric} {number(finding.value)} of {number(finding.limit)} "
            f"({finding.percent:g} %)"
        )
        if finding.action == "suspend":
            caps.setdefault(finding.project_id, []).append((finding, figures))
        elif finding.action == "protected":
            report.protected.append(finding.project_id)
            if quotas.FULL in fresh:
                context.notifier.to_operators(
                    tx,
                    finding.project_id,
                    f"Protected project {finding.project_id} is over a hard cap",
                    f"Not suspended (protected): {figures}.",
                )
        elif fresh:
            threshold = max(fresh)
            data = {"metric": finding.metric, "threshold": threshold, "period": report.period}
            data |= {"value": finding.value, "limit": finding.limit, "hard": finding.hard}
            warnings.append((finding.project_id, data))
            cap = "hard cap (the project is suspended at 100 %)" if finding.hard else "limit"
            subject = f"{finding.project_id} reached {threshold} % of its {finding.metric} {cap}"
            body = f"Usage in {report.period}: {figures}."
            messages.append((finding.owner_id, finding.project_id, subject, body))
            report.warned.append(
                {"project_id": finding.project_id, "metric": finding.metric, "threshold": threshold}
            )
    announce_many(context, tx, "quota.warning", warnings)
    context.notifier.to_owners(tx, messages)
    suspend_at_caps(context, tx, report, caps)


def suspend_at_caps(
    context: JobContext,
    tx: ControlTx,
    report: quotas.LimitsReport,
    caps: dict[str, list[tuple[quotas.QuotaFinding, str]]],
) -> None:
    """Suspend the projects at 100 % of a hard cap, all at once; the reason names every cap
    a project reached, the platform event the first."""
    if not caps:
        return
    projects = tx.projects.get_many(caps)
    suspensions = []
    for project_id, reached in caps.items():
        first = reached[0][0]
        data = {"metric": first.metric, "value": first.value, "limit": first.limit}
        reason = "hard cap reached: " + "; ".join(figures for _, figures in reached)
        suspensions.append((projects[project_id], reason, data))
    for project_id, outcome in suspend_many(context, tx, suspensions).items():
        (report.suspended if outcome == "suspended" else report.busy).append(project_id)


JOB_TYPE = JobType(
    "check_usage_limits",
    CheckLimitsPayload,
    check_usage_limits,
    RetryPolicy(3, 10.0, 300.0),
    description="warn at quota thresholds, suspend at 100 % of a hard cap (hourly)",
)
