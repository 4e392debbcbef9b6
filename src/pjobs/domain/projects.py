"""One project seen whole: `describe` (as `kubectl describe` shows a resource: its status
and why, quota use, rates against its baseline, detections, alerts, audit, keys, webhooks,
backups, jobs — the seed's getProjectDetails, getProjectMetrics, getProjectBaseline and
getProjectOwner made readable) and `timeline` (every kind of event of the project in one
time-ordered list). Both read on one transaction; the CLI and the dashboard show them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pjobs.domain import abuse
from pjobs.domain.quotas import standing
from pjobs.store.staging import period_of

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.control.alerts import AlertRecord
    from pjobs.control.projects import Project
    from pjobs.settings.config import Settings

RECENT = 10  # detections, alerts, audit events a page shows


def alert_outcome(tx: ControlTx, alert: AlertRecord) -> dict[str, Any]:
    """What came of an alert: what the receiver did, and, when it asked for an evaluation,
    how that ended (suspended, held but protected, not held — with its figures and
    reason — or still to run)."""
    outcome: dict[str, Any] = {"receiver": alert.action}
    job = tx.jobs.get(alert.job_id) if alert.job_id else None
    if job is None:
        return outcome
    outcome["job"] = {"id": job.id, "state": job.state}
    result = job.result if isinstance(job.result, dict) else {}
    if job.state == "succeeded":
        outcome |= {key: result.get(key) for key in ("action", "held", "reason", "metrics")}
        outcome["sources"] = result.get("sources", {})
    elif job.state == "failed":
        outcome["error"] = job.last_error
    return outcome


def why_suspended(tx: ControlTx, project: Project) -> dict[str, Any] | None:
    """The suspension that stands: when, who or what asked (an operator, `alert:SOURCE`,
    `schedule:check-limits`), the reason with its figures, and the alert behind it."""
    if project.status != "suspended":
        return None
    events = [e for e in tx.audit.recent(project.id, 200) if e.action == "project.suspended"]
    if not events:
        return {"reason": project.suspension_reason}
    event = events[0]
    found: dict[str, Any] = {
        "at": event.at,
        "by": event.actor,
        "reason": project.suspension_reason,
        "job_id": event.job_id,
        "pattern": event.data.get("pattern"),
        "figures": event.data.get("metrics")
        or {k: event.data[k] for k in ("metric", "value", "limit") if k in event.data},
    }
    if event.actor.startswith("alert:") and event.job_id is not None:
        for alert in tx.alerts.list(project_id=project.id, limit=200):
            if alert.job_id == event.job_id:
                found["alert"] = {"id": alert.id, "source": alert.source, "name": alert.name}
                break
    return found


def describe(tx: ControlTx, settings: Settings, project: Project, now: datetime) -> dict[str, Any]:
    """Everything about a project, as documented fields (README: projects describe)."""
    owner = tx.owners.get(project.owner_id)
    period = period_of(now)
    jobs = tx.jobs.of_project(project.id, 200)
    backups = tx.backups.list(project.id)
    completed = [b for b in backups if b.state == "completed"]
    return {
        "project": {
            "id": project.id, "name": project.name, "owner": project.owner_id,
            "region": project.region, "plan": project.plan, "status": project.status,
            "protected": project.protected, "created_at": project.created_at,
            "tenant_database": project.tenant_database,
        },
        "suspension": why_suspended(tx, project),
        "owner": None if owner is None else {
            "id": owner.id, "email": owner.email, "telegram_chat_id": owner.telegram_chat_id
        },
        "quotas": {"period": period, "metrics": standing(tx, settings, project, period)},
        "rates": {
            "window_seconds": settings.abuse.window_seconds,
            **abuse.measured(tx, project.id, now, settings.abuse.window_seconds),
        },
        "detections": [asdict(d) for d in tx.abuse.list(project.id, limit=RECENT)],
        "alerts": [
            {"id": a.id, "received_at": a.received_at, "source": a.source, "name": a.name,
             "status": a.status, "pattern": a.pattern, "figures": a.metrics,
             "outcome": alert_outcome(tx, a)}
            for a in tx.alerts.list(project_id=project.id, limit=RECENT)
        ],
        "audit": [
            {"at": e.at, "actor": e.actor, "action": e.action, "data": e.data, "job_id": e.job_id}
            for e in tx.audit.recent(project.id, RECENT)
        ],
        "keys": [
            {"id": k.id, "kind": k.kind, "version": k.version, "prefix": k.prefix,
             "status": k.status, "expires_at": k.expires_at, "last_used_at": k.last_used_at}
            for k in tx.keys.list(project.id)
        ],
        "webhooks": [
            {"id": e.id, "url": e.url, "enabled": e.enabled, "events": e.events,
             "failures_in_a_row": e.consecutive_failures, "disabled_reason": e.disabled_reason}
            for e in tx.webhooks.endpoints(project.id)
        ],
        "backups": {
            "count": len(backups),
            "latest_completed": None if not completed else {
                "id": completed[0].id, "at": completed[0].finished_at,
                "size": completed[0].size, "storage": completed[0].storage,
            },
            "failed": [b.id for b in backups if b.state == "failed"][:RECENT],
        },
        "jobs": {
            "pending": [
                {"id": j.id, "type": j.type, "state": j.state, "run_at": j.run_at}
                for j in jobs if j.state in ("queued", "running")
            ],
            "failed": [
                {"id": j.id, "type": j.type, "finished_at": j.finished_at, "error": j.last_error}
                for j in jobs if j.state == "failed"
            ][:RECENT],
        },
    }  # fmt: skip


def timeline(
    tx: ControlTx, project_id: str, since: datetime | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Every kind of event of one project in one time-ordered list (oldest first): its
    audit trail (lifecycle, keys, quota warnings, suspensions and resumes, webhooks,
    backups), the alerts that named it, and each abuse evaluation."""
    items: list[dict[str, Any]] = []
    for event in tx.audit.list(project_id, since, limit):
        items.append(
            {"at": event.at, "kind": "audit", "what": event.action, "by": event.actor,
             "detail": event.data, "job_id": event.job_id}
        )  # fmt: skip
    for alert in tx.alerts.list(since=since, limit=limit, project_id=project_id):
        what = f"alert {alert.status}: {alert.name or alert.source}"
        items.append(
            {"at": alert.received_at, "kind": "alert", "what": what, "by": f"alert:{alert.source}",
             "detail": {"pattern": alert.pattern, "figures": alert.metrics,
                        "outcome": alert_outcome(tx, alert)},
             "job_id": alert.job_id}
        )  # fmt: skip
    for found in tx.abuse.list(project_id, since, limit):
        what = f"{found.pattern} {'held' if found.held else 'did not hold'}: {found.action}"
        items.append(
            {"at": found.at, "kind": "detection", "what": what, "by": found.actor,
             "detail": {"reason": found.reason, "figures": found.metrics,
                        "sources": found.sources},
             "job_id": found.job_id}
        )  # fmt: skip
    items.sort(key=lambda item: (item["at"], item["kind"]))
    return items[-limit:]
