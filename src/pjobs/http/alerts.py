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
    from pjobs.control import ControlTx
    from pjobs.settings.config import Settings

SOURCES = ("alertmanager", "grafana", "datadog", "generic")
PATTERNS = ("excessive_usage", "error_spike", "suspicious_pattern")
FIGURES = (
    "requests_per_minute",
    "baseline_requests_per_minute",
    "error_rate",
    "requests",
    "errors",
)
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


def _number(value: Any, name: str) -> float:
    """A figure an alert gives: a number, or a string of one (`{{ $value }}`); finite."""
    if isinstance(value, bool):
        raise BadAlert(f"figure {name!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadAlert(f"figure {name!r} is not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(number) or number < 0:
        raise BadAlert(f"figure {name!r} must be a finite number ≥ 0")
    return number


def figures(
    named: dict[str, Any], alert_name: str | None, names: dict[str, str]
) -> dict[str, float]:
    """The figures abuse patterns judge among what an alert carries (labels, annotations,
    values, fields): each under its own name (`requests_per_minute`, …), or a name
    `receiver.metric_names` maps to one (`ALERTNAME.NAME` first, then `NAME`)."""
    found: dict[str, float] = {}
    for name, value in named.items():
        metric = names.get(f"{alert_name}.{name}") or names.get(name)
        metric = metric or (name if name in FIGURES else None)
        if metric is not None:
            found[metric] = _number(value, name)
    return found


def _prometheus(data: Any, names: dict[str, str]) -> list[IncomingAlert]:
    """Alertmanager (version 4) and Grafana: {"alerts": [{status, labels, annotations,
    startsAt, fingerprint, …, and Grafana's `values`}], …}. Figures come from labels and
    annotations, and from Grafana's values (a `metric_KEY` label says which figure the
    value KEY is)."""
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise BadAlert("expected an object with a list of alerts")
    found = []
    for alert in data["alerts"]:
        if not isinstance(alert, dict) or alert.get("status") not in ("firing", "resolved"):
            raise BadAlert("each alert needs a status, firing or resolved")
        labels = _strings(alert.get("labels"), "labels")
        notes = _strings(alert.get("annotations"), "annotations")
        values = alert.get("values") or {}
        if not isinstance(values, dict):
            raise BadAlert("values must be an object")
        starts = str(alert.get("startsAt") or "")
        fingerprint = str(alert.get("fingerprint") or _key(json.dumps(labels, sort_keys=True)))
        name = labels.get("alertname")
        by_label = {
            labels[f"metric_{key}"]: value
            for key, value in values.items()
            if labels.get(f"metric_{key}") in FIGURES
        }
        named = {**labels, **notes, **values, **by_label}
        found.append(
            IncomingAlert(
                _key(fingerprint, starts),
                alert["status"],
                name,
                labels.get("project_id"),
                labels.get("pattern"),
                labels,
                figures(named, name, names),
                reason=notes.get("summary") or notes.get("description"),
            )
        )
    return found


def _datadog(data: Any, names: dict[str, str]) -> list[IncomingAlert]:
    """A Datadog webhook with the payload README gives: alert_cycle_key, alert_transition,
    title and tags ("project_id:proj-123,pattern:error_spike" or a list); figures from
    `alert_metric` and `value` ($ALERT_METRIC and the monitor's value), and from tags."""
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
        tag_name, _, value = str(tag).strip().partition(":")
        if tag_name:
            labels[tag_name] = value
    status: Status = "resolved" if transition.lower().startswith("recover") else "firing"
    title = str(data.get("title") or "") or None
    named: dict[str, Any] = dict(labels)
    metric, given = data.get("alert_metric"), data.get("value")
    if isinstance(metric, str) and metric and given not in (None, ""):
        named[metric] = given
    return [
        IncomingAlert(
            _key(str(cycle)),
            status,
            title,
            labels.get("project_id"),
            labels.get("pattern"),
            labels,
            figures(named, title, names),
            reason=title,
        )
    ]


def _generic(data: Any, names: dict[str, str]) -> list[IncomingAlert]:
    """{"project_id", "pattern", "metrics", "reason", "status", "dedupe_key", "name"}, or
    a list of them under "alerts"."""
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
        name = str(item.get("name") or "") or None
        found.append(
            IncomingAlert(
                _key(key),
                status,
                name,
                item.get("project_id"),
                item.get("pattern"),
                {"dedupe_key": key},
                figures(metrics, name, names),
                reason if isinstance(reason, str) else None,
            )
        )
    return found


PARSERS = {"alertmanager": _prometheus, "grafana": _prometheus, "datadog": _datadog}


def parse(source: str, data: Any, names: dict[str, str] | None = None) -> list[IncomingAlert]:
    """The alerts of a request body; BadAlert if it is not one of its source. `names`:
    `receiver.metric_names`."""
    return PARSERS.get(source, _generic)(data, names or {})


def _safe_reason(text: str | None) -> str | None:
    """An alert's summary as a suspension reason: printable, at most 500 characters."""
    cleaned = "".join(c if c.isprintable() else " " for c in text or "").strip()[:500]
    try:
        return ids.check_text(cleaned, "reason") if cleaned else None
    except InvalidInputError:
        return None  # bidi characters and the like: no reason is better than a forged one


Policy = Literal["evaluate", "act", "record"]


def policy_of(settings: Settings, source: str, name: str | None) -> Policy:
    """What an alert may do (`receiver.policies`: by SOURCE.ALERTNAME, ALERTNAME, SOURCE):
    `evaluate` (the default: the pattern must hold on the evidence), `act` (the alert is
    enough), `record` (nothing is done)."""
    policies = settings.receiver.policies
    for key in (f"{source}.{name}", name or "", source):
        if key in policies:
            return policies[key]
    return "evaluate"


def pattern_of(settings: Settings, alert: IncomingAlert, policy: Policy) -> str | None:
    """The pattern an alert raises: its `pattern` label or tag, else what
    `receiver.patterns` maps its name to; else, only when its word is enough (`act`),
    `suspicious_pattern`. None: nothing to evaluate."""
    pattern = alert.pattern if alert.pattern in PATTERNS else None
    pattern = pattern or settings.receiver.patterns.get(alert.name or "")
    return pattern or ("suspicious_pattern" if policy == "act" else None)


def receive(app: App, source: str, alerts: list[IncomingAlert]) -> dict[str, Any]:
    """Keep every alert (with the figures it carried) and act on the new firing ones that
    name a known project, per their policy, in one transaction; what was done. A resolved
    alert never suspends: when the one it ends led to a suspension, the owner is told the
    alert is over and that `pjobs resume` lifts the suspension."""
    from pjobs.control import ControlPlane
    from pjobs.queue.enqueue import EnqueueOptions, enqueue_on

    settings = app.settings
    summary: dict[str, Any] = {"received": len(alerts), "new": 0, "auto_suspend_jobs": []}
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        for alert in alerts:
            policy = policy_of(settings, source, alert.name)
            pattern = pattern_of(settings, alert, policy)
            project = alert.project_id if isinstance(alert.project_id, str) else None
            alert_id = tx.alerts.record(
                source, alert.dedupe_key, alert.status, alert.name, project, pattern,
                alert.labels, "received", alert.metrics,
            )  # fmt: skip
            if alert_id is None:
                continue  # seen before: acted on (or not) then
            summary["new"] += 1
            if alert.status == "resolved":
                tx.alerts.acted(alert_id, resolved(app, tx, source, alert), None)
            elif project is None:
                tx.alerts.acted(alert_id, "names no project: ignored", None)
            elif not ids.PROJECT_ID.matches(project) or tx.projects.get(project) is None:
                tx.alerts.acted(alert_id, f"no project {project[:60]!r}: ignored", None)
            elif policy == "record":
                tx.alerts.acted(alert_id, "recorded (policy record): nothing done", None)
            elif pattern is None:
                why = f"no pattern, and {alert.name or 'its name'} maps to none: not evaluated"
                tx.alerts.acted(alert_id, why, None)
            else:
                payload: dict[str, Any] = {"project_id": project, "pattern": pattern}
                payload |= {"metrics": alert.metrics, "decided": policy == "act"}
                reason = _safe_reason(alert.reason)
                if reason:
                    payload["reason"] = reason
                # one pending auto_suspend a project and pattern, however many alerts say so
                options = EnqueueOptions(
                    idempotency_key=f"auto_suspend:{project}:{pattern}",
                    requested_by=f"alert:{source}",
                )
                items = [("auto_suspend", payload)]
                (job,) = enqueue_on(tx, app.registry, settings, items, options)
                if job.created:
                    tx.alerts.acted(alert_id, f"auto_suspend enqueued ({policy})", job.id)
                    summary["auto_suspend_jobs"].append(job.id)
                else:
                    tx.alerts.acted(alert_id, "auto_suspend already pending", job.id)
    return summary


def resolved(app: App, tx: ControlTx, source: str, alert: IncomingAlert) -> str:
    """What a resolution comes to: nothing, unless the firing alert it ends led to a
    suspension that still stands; then the owner is told, and the action says how to lift
    it."""
    firing = tx.alerts.firing_of(source, alert.dedupe_key)
    job = tx.jobs.get(firing.job_id) if firing is not None and firing.job_id else None
    result = job.result if job is not None and isinstance(job.result, dict) else {}
    project = tx.projects.get(firing.project_id) if firing and firing.project_id else None
    if result.get("action") != "suspended" or project is None or project.status != "suspended":
        return "resolved: nothing to do"
    app.notifier.to_owner(
        tx,
        project.owner_id,
        project.id,
        f"The alert behind the suspension of {project.id} is resolved",
        f"{firing.name or 'The alert'} ({source}) that led to the suspension of "  # type: ignore[union-attr]
        f"{project.name!r} is resolved. The project stays suspended until an operator "
        f"lifts it: pjobs resume {project.id}",
    )
    return f"resolved; {project.id} stays suspended: pjobs resume {project.id}"
