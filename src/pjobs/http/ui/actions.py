"""What the dashboard does for a viewer who may act, each recorded in the audit trail as
`ui:NAME`: retry or cancel a job, or every job a filter matches (after its count was
confirmed); run a schedule now; disable or enable a webhook endpoint; resume a project
(a `resume_project` job, as `pjobs resume` enqueues). Each returns what it did, in words."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from pjobs.errors import InvalidInputError, InvalidStateError, NotFoundError

if TYPE_CHECKING:
    from pjobs.app import App
    from pjobs.http.ui.access import Viewer
    from pjobs.store.records import JobFilter

BULK = {"retry": ("failed", "cancelled"), "cancel": ("queued",)}  # the states each acts on


def retry_job(app: App, viewer: Viewer, job_id: int) -> str:
    job = app.queue.retry(job_id, asked_by=viewer.actor)
    return f"job {job_id} ({job.type}) queued again"


def cancel_job(app: App, viewer: Viewer, job_id: int) -> str:
    job = app.queue.cancel(job_id, asked_by=viewer.actor)
    return f"job {job_id} ({job.type}) cancelled"


def bulk_states(action: str, found: JobFilter) -> None:
    """InvalidInputError unless the filter names a state the action acts on."""
    if action not in BULK:
        raise InvalidInputError(f"no bulk action {action[:20]!r}: retry or cancel")
    if found.state not in BULK[action]:
        states = " or ".join(BULK[action])
        raise InvalidInputError(f"to {action} every job a filter matches, filter by {states}")


def bulk(app: App, viewer: Viewer, action: str, found: JobFilter, confirmed: int) -> str:
    """Retry or cancel every job the filter matches, if they are still the `confirmed`
    number (else InvalidStateError: the viewer confirms the new count)."""
    from pjobs.control import ControlPlane

    bulk_states(action, found)
    with ControlPlane(app.store).tx(app.clock.now(), True) as tx:  # the count, acts, audit
        count = tx.jobs.count_matching(found)
        if count != confirmed:
            raise InvalidStateError(
                f"{count} jobs match now, not the {confirmed} confirmed: look and confirm again"
            )
        if action == "retry":
            ids = tx.jobs.retry_matching(found)
        else:
            ids = tx.jobs.cancel_matching(found)
        shown = {k: str(v) for k, v in asdict(found).items() if v is not None}
        data = {"filter": shown, "count": len(ids), "jobs": ids[:1000]}
        tx.audit.append(viewer.actor, f"jobs.{action}", None, None, data)
    done = "queued again" if action == "retry" else "cancelled"
    left = count - len(ids)
    held = f" ({left} held back: their idempotency key is in use)" if left else ""
    return f"{len(ids)} {found.state} jobs {done}{held}"


def run_schedule(app: App, viewer: Viewer, name: str) -> str:
    from pjobs.queue import scheduler

    found = {s.name: s for s in scheduler.effective(app.settings)}.get(name)
    if found is None:
        raise NotFoundError(f"no schedule {name[:60]!r}")
    job_id = scheduler.Scheduler(app, []).fire(found, app.clock.now(), asked_by=viewer.actor)
    return f"schedule {name}: enqueued {found.job} job {job_id}"


def switch_endpoint(app: App, viewer: Viewer, endpoint_id: str, enabled: bool) -> str:
    from pjobs.control import ControlPlane
    from pjobs.domain import webhooks

    with ControlPlane(app.store).tx(app.clock.now(), True) as tx:
        endpoint = tx.webhooks.endpoint(endpoint_id)
        if endpoint is None:
            raise NotFoundError(f"no webhook endpoint {endpoint_id[:60]!r}")
        changed = webhooks.switch_endpoint(tx, endpoint, enabled, viewer.actor)
    state = "enabled" if enabled else "disabled"
    return f"endpoint {endpoint_id} {state}" if changed else f"endpoint {endpoint_id} was {state}"


def resume_project(app: App, viewer: Viewer, project_id: str) -> str:
    from pjobs.control import ControlPlane
    from pjobs.queue.enqueue import EnqueueOptions

    with ControlPlane(app.store).tx(app.clock.now(), False) as tx:
        project = tx.projects.get(project_id)
    if project is None:
        raise NotFoundError(f"no project {project_id[:60]!r}")
    if project.status != "suspended":
        raise InvalidStateError(f"project {project_id} is {project.status}, not suspended")
    payload = {"project_id": project_id, "reason": f"resumed from the dashboard by {viewer.name}"}
    job = app.queue.enqueue("resume_project", payload, EnqueueOptions(requested_by=viewer.actor))
    return f"project {project_id}: resume_project job {job.id} enqueued"
