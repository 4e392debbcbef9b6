"""`deprovision_project`: remove what a project has, wherever provisioning got to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pjobs.adapters.services import SERVICES
from pjobs.domain.events import announce
from pjobs.handlers.lifecycle import (
    ProjectPayload,
    StepResult,
    project_lock,
    run_steps,
    summary,
)
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType, PermanentFailure, Refused
from pjobs.queue.retry import RetryPolicy

if TYPE_CHECKING:
    from pjobs.control.projects import Project

STEPS = (
    *(f"deprovision.unregister_{service}" for service in SERVICES),
    "deprovision.drop_database",
    "deprovision.revoke_keys",
    "deprovision.deactivate",
)


class DeprovisionPayload(ProjectPayload):
    force: bool = False  # a protected project too


def protected_refusal(project: Project, force: bool) -> str | None:
    """Why a protected project is not deprovisioned without `force` (None: it may be);
    the command says it before enqueueing, the handler when it runs."""
    if project.protected and not force:
        return (
            f"project {project.id} is protected: `pjobs projects unprotect {project.id}` "
            "first, or deprovision it with --force"
        )
    return None


def deprovision_project(payload: DeprovisionPayload, context: JobContext) -> dict[str, Any]:
    """Unregisters the project from the auth, realtime and storage services, drops its
    tenant database, revokes its API keys, marks it `deprovisioned`, writes the audit
    trail and notifies the owner. A project already deprovisioned is left as it is.
    Every step runs each time (each is safe to repeat), under the project's lifecycle
    lock, so a deprovision always converges whatever ran before it. A protected project
    is refused unless `force`."""
    with project_lock(context, payload.project_id):
        return _deprovision(payload, context)


def _deprovision(payload: DeprovisionPayload, context: JobContext) -> dict[str, Any]:
    project_id = payload.project_id
    outside = context.integrations
    with context.tx(write=False) as tx:
        project = tx.projects.get(project_id)
    if project is None:
        raise PermanentFailure(f"no project {project_id}")
    if project.status == "deprovisioned":
        return summary(context, project_id)
    if (refusal := protected_refusal(project, payload.force)) is not None:
        raise Refused(refusal)

    def unregister(service: str) -> Any:
        def step() -> StepResult:
            if not outside.services.configured(service):
                return "skipped", {"reason": f"services.{service}.url is not set"}
            return "done", outside.services.unregister(service, project_id)

        return step

    def drop_database() -> StepResult:
        location = outside.tenants.location(project_id)
        if outside.tenants.exists(project_id) and not outside.tenants.owned(project_id):
            reason = "not created by pjobs for this project: left as it is"
            return "skipped", {"location": location, "reason": reason}
        return "done", {"location": location, "dropped": outside.tenants.drop(project_id)}

    def revoke_keys() -> StepResult:
        with context.tx() as tx:
            revoked = tx.keys.revoke_all(project_id)
            context.audit(tx, "key.revoked_all", project_id, data={"count": revoked})
        return "done", {"revoked": revoked}

    def deactivate() -> StepResult:
        with context.tx() as tx:
            tx.projects.set_status(project_id, "deprovisioned")
            tx.projects.set_tenant_database(project_id, None)
            announce(
                context,
                tx,
                "project.deprovisioned",
                project_id,
                {"previous_status": project.status},
            )
            context.notifier.to_owner(
                tx,
                project.owner_id,
                project_id,
                f"Project {project_id} was removed",
                f"Your project {project.name!r} ({project_id}) and its database were removed.",
            )
        return "done", {}

    actions = {
        **{f"deprovision.unregister_{service}": unregister(service) for service in SERVICES},
        "deprovision.drop_database": drop_database,
        "deprovision.revoke_keys": revoke_keys,
        "deprovision.deactivate": deactivate,
    }
    try:
        run_steps(context, project_id, STEPS, actions, resume=False)
    finally:
        context.notifier.deliver_due()
    return summary(context, project_id)


JOB_TYPE = JobType(
    "deprovision_project",
    DeprovisionPayload,
    deprovision_project,
    RetryPolicy(3, 2.0, 300.0),
    description="remove a project: services, tenant database, API keys",
)
