"""Monitoring alerts in, whatever sends them (Prometheus Alertmanager's webhook, payload
version 4; Grafana unified alerting; a Datadog webhook with the payload README gives; the
generic shape), parsed into one form, kept, and acted on: a firing alert that names a
project enqueues `auto_suspend` for it. Each alert is acted on once, across processes:
Alertmanager's and Grafana's by fingerprint and start time, Datadog's by alert cycle key,
the generic shape's by its `dedupe_key`."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pjobs import ids
from pjobs.errors import InvalidInputError

if TYPE_CHECKING:
    from pjobs.app import App

SOURCES = ("alertmanager", "grafana", "datadog", "generic")
PATTERNS = ("excessive_usage", "error_spike", "suspicious_pattern")
Status = Literal["firing", "resolved"]


class BadAlert(InvalidInputError):
    """The body is not an alert of its source (answered with 400)."""


@dataclass(frozen=True)
class IncomingAlert:
    dedupe_key: str
    status: Status
    name: str | None
    project_id: str | None
    pattern: str | None
    labels: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadAlert(f"{what} must be an object of strings")
    return {str(k): v for k, v in value.items()}


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _prometheus(data: Any) -> list[IncomingAlert]:
    """Alertmanager (version 4) and Grafana: {"alerts": [{status, labels, annotations,
    startsAt, fingerprint, …}], …}."""
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise BadAlert("expected an object with a list of alerts")
    found = []
    for alert in data["alerts"]:
        if not isinstance(alert, dict) or alert.get("status") not in ("firing", "resolved"):
            raise BadAlert("each alert needs a status, firing or resolved")
        labels = _strings(alert.get("labels"), "labels")
        notes = _strings(alert.get("annotations"), "annotations")
        starts = str(alert.get("startsAt") or "")
        fingerprint = str(alert.get("fingerprint") or _key(json.dumps(labels, sort_keys=True)))
        found.append(
            IncomingAlert(
                _key(fingerprint, starts),
                alert["status"],
                labels.get("alertname"),
                labels.get("project_id"),
                labels.get("pattern"),
                labels,
                reason=notes.get("summary") or notes.get("description"),
            )
        )
    return found


def _datadog(data: Any) -> list[IncomingAlert]:
    """A Datadog webhook with the payload README gives: alert_cycle_key, alert_transition,
    title and tags ("project_id:proj-123,pattern:error_spike" or a list)."""
    if not isinstance(data, dict):
        raise BadAlert("expected a JSON object")
    transition = str(data.get("alert_transition") or "")
    cycle = data.get("alert_cycle_key") or data.get("alert_id")
    if not transition or not cycle:
        raise BadAlert("a Datadog alert needs alert_transition and alert_cycle_key")
    raw = data.get("tags") or []
    tags = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(tags, list):
        raise BadAlert("tags must be a string or a list")
    labels = {}
    for tag in tags:
        name, _, value = str(tag).strip().partition(":")
        if name:
            labels[name] = value
    status: Status = "resolved" if transition.lower().startswith("recover") else "firing"
    title = str(data.get("title") or "") or None
    return [
        IncomingAlert(
            _key(str(cycle)),
            status,
            title,
            labels.get("project_id"),
            labels.get("pattern"),
            labels,
            reason=title,
        )
    ]


def _generic(data: Any) -> list[IncomingAlert]:
    """{"project_id", "pattern", "metrics", "reason", "status", "dedupe_key"}, or a list
    of them under "alerts"."""
    items = data.get("alerts") if isinstance(data, dict) and "alerts" in data else [data]
    if not isinstance(items, list):
        raise BadAlert("alerts must be a list")
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise BadAlert("an alert is a JSON object")
        status = item.get("status", "firing")
        key = item.get("dedupe_key")
        if status not in ("firing", "resolved") or not isinstance(key, str) or not key:
            raise BadAlert("an alert needs a dedupe_key, and a status firing or resolved")
        metrics = item.get("metrics") or {}
        if not isinstance(metrics, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in metrics.values()
        ):
            raise BadAlert("metrics must be an object of finite numbers")
        reason = item.get("reason")
        found.append(
            IncomingAlert(
                _key(key),
                status,
                str(item.get("name") or "") or None,
                item.get("project_id"),
                item.get("pattern"),
                {"dedupe_key": key},
                metrics,
                reason if isinstance(reason, str) else None,
            )
        )
    return found


PARSERS = {"alertmanager": _prometheus, "grafana": _prometheus, "datadog": _datadog}


def parse(source: str, data: Any) -> list[IncomingAlert]:
    """The alerts of a request body; BadAlert if it is not one of its source."""
    return PARSERS.get(source, _generic)(data)


def _safe_reason(text: str | None) -> str | None:
    """An alert's summary as a suspension reason: printable, at most 500 characters."""
    cleaned = "".join(c if c.isprintable() else " " for c in text or "").strip()[:500]
    try:
        return ids.check_text(cleaned, "reason") if cleaned else None
    except InvalidInputError:
        return None  # bidi characters and the like: no reason is better than a forged one


def receive(app: App, source: str, alerts: list[IncomingAlert]) -> dict[str, Any]:
    """Keep every alert and act on the new firing ones that name a known project, in one
    transaction; what was done."""
    from pjobs.control import ControlPlane
    from pjobs.queue.enqueue import EnqueueOptions, enqueue_on

    summary: dict[str, Any] = {"received": len(alerts), "new": 0, "auto_suspend_jobs": []}
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        for alert in alerts:
            pattern = alert.pattern if alert.pattern in PATTERNS else None
            pattern = pattern or app.settings.receiver.patterns.get(alert.name or "")
            pattern = pattern or "suspicious_pattern"
            project = alert.project_id if isinstance(alert.project_id, str) else None
            alert_id = tx.alerts.record(
                source,
                alert.dedupe_key,
                alert.status,
                alert.name,
                project,
                pattern,
                alert.labels,
                "received",
            )
            if alert_id is None:
                continue  # seen before: acted on (or not) then
            summary["new"] += 1
            if alert.status == "resolved":
                tx.alerts.acted(alert_id, "resolved: nothing to do", None)
            elif project is None:
                tx.alerts.acted(alert_id, "names no project: ignored", None)
            elif not ids.PROJECT_ID.matches(project) or tx.projects.get(project) is None:
                tx.alerts.acted(alert_id, f"no project {project[:60]!r}: ignored", None)
            else:
                payload: dict[str, Any] = {"project_id": project, "pattern": pattern}
                payload["metrics"] = alert.metrics
                reason = _safe_reason(alert.reason)
                if reason:
                    payload["reason"] = reason
                # one pending auto_suspend a project and pattern, however many alerts say so
                options = EnqueueOptions(
                    idempotency_key=f"auto_suspend:{project}:{pattern}",
                    requested_by=f"alert:{source}",
                )
                items = [("auto_suspend", payload)]
                (job,) = enqueue_on(tx, app.registry, app.settings, items, options)
                if job.created:
                    tx.alerts.acted(alert_id, "auto_suspend enqueued", job.id)
                    summary["auto_suspend_jobs"].append(job.id)
                else:
                    tx.alerts.acted(alert_id, "auto_suspend already pending", job.id)
    return summary
