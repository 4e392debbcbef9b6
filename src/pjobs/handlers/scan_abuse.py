"""`scan_abuse`: every active project's current window against its baseline in one query;
an `auto_suspend` job for each pattern that holds, enqueued with the scan's record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field

from pjobs.domain import abuse
from pjobs.handlers.lifecycle import ProjectsScope
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType
from pjobs.queue.retry import ONE_SHOT


class ScanAbusePayload(ProjectsScope):
    window_seconds: float | None = Field(None, ge=60, le=86_400)  # default: abuse.window_seconds


def scan_abuse(payload: ScanAbusePayload, context: JobContext) -> dict[str, Any]:
    """Recomputes stale baselines, measures every active project's request rate and error
    share over the current window, and (with `enforce`) enqueues an `auto_suspend` job for
    each pattern that holds, on the same transaction; the auto_suspend job records the
    detection and suspends (or reports a protected project). Prunes per-minute and
    per-day counts past their retention."""
    settings = context.settings
    with context.tx() as tx:
        abuse.refresh_baselines(tx, settings, tx.now)
        report = abuse.scan(tx, settings, tx.now, payload.selected, payload.window_seconds)
        enqueued = []
        if payload.enforce and report.findings:
            minute = f"{report.until:%Y%m%dT%H%M}"
            jobs = context.enqueue_many(
                tx,
                "auto_suspend",
                [
                    {
                        "project_id": project_id,
                        "pattern": evaluation.pattern,
                        "metrics": evaluation.metrics,
                    }
                    for project_id, _, evaluation in report.findings
                ],
                keys=[
                    f"auto_suspend:{project_id}:{evaluation.pattern}:{minute}"
                    for project_id, _, evaluation in report.findings
                ],
            )
            enqueued = [job.id for job in jobs]
        retention = settings.usage
        tx.usage.prune(
            tx.now - timedelta(hours=retention.minute_retention_hours),
            tx.now.date() - timedelta(days=retention.day_retention_days),
        )
    return {**abuse.describe(report), "auto_suspend_jobs": enqueued}


JOB_TYPE = JobType(
    "scan_abuse",
    ScanAbusePayload,
    scan_abuse,
    ONE_SHOT,
    description="compare current request and error rates with baselines; auto_suspend",
)
