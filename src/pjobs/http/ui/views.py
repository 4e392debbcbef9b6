"""What each page of the dashboard shows, read from the same queries as the CLI (`jobs
stats`, `pjobs top`, `projects describe`, `projects timeline`, `schedules list`). Every
query is indexed or bounded: the counts over the whole jobs table are the one exception,
and they are taken at most once per `Tallies.max_age` whatever the number of viewers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pjobs.store.records import FINISHED_STATES, STATES, JobFilter

if TYPE_CHECKING:
    from pjobs.app import App
    from pjobs.control.tx import ControlTx

PAGE = 50  # rows a list shows at once
# Chart windows: how far back, and the width of a bar.
WINDOWS = {"hour": (timedelta(hours=1), 60), "day": (timedelta(days=1), 1800)}


@dataclass(frozen=True)
class Tally:
    at: datetime
    states: dict[str, int]  # every job, by state (`jobs stats`)
    types: dict[str, dict[str, int]]  # by type, then state


class Tallies:
    """The counts of every job by state and type, shared by every page and viewer: taken
    again when older than a second, or twenty times what the last count took (a table of
    a million jobs is counted every couple of seconds at most, not on each refresh)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.last: Tally | None = None
        self.took = 0.0
        self.taken = 0.0

    def max_age(self) -> float:
        return max(1.0, 20 * self.took)

    def get(self) -> Tally:
        with self.lock:
            if self.last is None or time.monotonic() - self.taken > self.max_age():
                started = time.monotonic()
                self.last = self._count()
                self.taken = time.monotonic()
                self.took = self.taken - started
            return self.last

    def _count(self) -> Tally:
        counted = self.app.queue.stats()  # what `jobs stats` shows
        return Tally(self.app.clock.now(), counted["states"], counted["types"])


def chart(app: App, window: str) -> dict[str, Any]:
    """Jobs finished over a window (the last hour by minute, the last day by half hour):
    each bar's start, and its succeeded and failed (or cancelled) counts."""
    span, width = WINDOWS[window]
    now = app.clock.now()
    first = int((now - span).timestamp()) // width + 1
    last = int(now.timestamp()) // width
    bars = {bucket: {"succeeded": 0, "failed": 0} for bucket in range(first, last + 1)}
    for bucket, state, count in app.store.finished_by_bucket(now - span, width):
        if bucket in bars:
            bars[bucket]["succeeded" if state == "succeeded" else "failed"] += count
    return {
        "window": window,
        "bar_seconds": width,
        "top": max([1, *(c["succeeded"] + c["failed"] for c in bars.values())]),
        "bars": [
            {"at": datetime.fromtimestamp(b * width, now.tzinfo), **counts}
            for b, counts in sorted(bars.items())
        ],
    }


def overview(app: App, tx: ControlTx, tally: Tally, window: str) -> dict[str, Any]:
    from pjobs.queue import scheduler

    now = tx.now
    oldest = app.store.oldest_due(now)
    alerts = tx.alerts.list(since=now - timedelta(hours=24), limit=PAGE)
    return {
        "tally": tally,
        "states": STATES,
        "finished_states": FINISHED_STATES,
        "chart": chart(app, window),
        "lag_seconds": None if oldest is None else (now - oldest).total_seconds(),
        "workers": app.queue.workers_alive(),
        "busy_workers": app.store.running_workers(),
        "failures": app.store.recent_failures(5),
        "schedules": scheduler.listing(app.settings, tx.schedules.last_ticks(), now),
        "alerts": alerts,
        "projects": tx.projects.counts(),
    }


def job_filter(app: App, query: dict[str, str]) -> JobFilter:
    """The filter a jobs page's query string asks for. InvalidInputError for a state or
    type there is not, or a time that is not one."""
    from pjobs.errors import InvalidInputError
    from pjobs.timeutil import parse_time

    def given(name: str) -> str | None:
        return query.get(name, "").strip() or None

    state, type_name, since = given("state"), given("type"), given("since")
    if state is not None and state not in STATES:
        raise InvalidInputError(f"no job state {state[:40]!r}: one of {', '.join(STATES)}")
    if type_name is not None and type_name not in app.registry.names():
        raise InvalidInputError(f"no job type {type_name[:60]!r}")
    return JobFilter(
        state=state,
        type=type_name,
        queue=given("queue"),
        project=given("project"),
        since=parse_time(since, app.clock) if since else None,
    )


def jobs(app: App, tx: ControlTx, found: JobFilter, before: int | None) -> dict[str, Any]:
    rows = tx.jobs.matching(found, before, PAGE + 1)
    return {
        "jobs": rows[:PAGE],
        "next_before": rows[PAGE - 1].id if len(rows) > PAGE else None,
        "filter": found,
        "states": STATES,
        "types": app.registry.names(),
    }


def job(app: App, job_id: int) -> dict[str, Any]:
    found = app.queue.get(job_id)
    project = found.payload.get("project_id") if isinstance(found.payload, dict) else None
    return {
        "job": found,
        "attempts": app.store.job_attempts(job_id),
        "project_id": project if isinstance(project, str) else None,
    }


def projects(app: App, tx: ControlTx, status: str | None, offset: int) -> dict[str, Any]:
    """A page of projects, each with its highest quota use this period."""
    from pjobs.domain.quotas import standing
    from pjobs.store.staging import period_of

    period = period_of(tx.now)
    page = tx.projects.list(status=status, limit=PAGE + 1, offset=offset)
    rows = []
    for project in page[:PAGE]:
        used = [r for r in standing(tx, app.settings, project, period) if r["percent"] is not None]
        top = max(used, key=lambda r: r["percent"], default=None)
        rows.append({"project": project, "quota": top})
    return {
        "projects": rows,
        "period": period,
        "status": status,
        "statuses": ("provisioning", "active", "suspended", "failed", "deprovisioned"),
        "next_offset": offset + PAGE if len(page) > PAGE else None,
        "counts": tx.projects.counts(),
    }


def project(app: App, tx: ControlTx, project_id: str) -> dict[str, Any]:
    """What `projects describe` and `projects timeline` show of one project."""
    from pjobs.domain.projects import describe, timeline
    from pjobs.errors import NotFoundError

    found = tx.projects.get(project_id)
    if found is None:
        raise NotFoundError(f"no project {project_id[:60]!r}")
    since = tx.now - timedelta(days=30)
    return {
        "page": describe(tx, app.settings, found, tx.now),
        "timeline": list(reversed(timeline(tx, project_id, since, 200))),
        "status": found.status,
    }


def alerts(tx: ControlTx, since: datetime | None) -> dict[str, Any]:
    return {"alerts": tx.alerts.list(since=since, limit=200), "counts": tx.alerts.counts()}


def webhooks(tx: ControlTx) -> dict[str, Any]:
    """Every endpoint (unhealthy ones first) and the last failed deliveries of each that
    is failing or disabled."""
    endpoints = tx.webhooks.endpoints(limit=500)
    endpoints.sort(key=lambda e: (e.enabled, -e.consecutive_failures, e.project_id, e.id))
    failures = {
        e.id: tx.webhooks.deliveries(e.id, state="failed", limit=3)
        for e in endpoints
        if not e.enabled or e.consecutive_failures
    }
    return {"endpoints": endpoints, "failures": failures, "counts": tx.webhooks.counts()}


def backups(tx: ControlTx) -> dict[str, Any]:
    """The newest backups, and the latest completed (stored and verified) one of each
    project."""
    recent = tx.backups.list(limit=500)
    latest: dict[str, Any] = {}
    for backup in recent:
        if backup.state == "completed":
            latest.setdefault(backup.project_id, backup)
    return {"backups": recent[:100], "latest": sorted(latest.values(), key=lambda b: b.project_id)}


def schedules(app: App, tx: ControlTx) -> dict[str, Any]:
    from pjobs.queue import scheduler

    return {"schedules": scheduler.listing(app.settings, tx.schedules.last_ticks(), tx.now)}
