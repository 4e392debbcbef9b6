"""`deprovision_project`: remove what a project has, wherever provisioning got to."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pjobs.adapters.services import SERVICES
from pjobs.control import ControlPlane
from pjobs.handlers.lifecycle import PROJECT_ID_PATTERN, StepOutcome, run_steps
from pjobs.handlers.provision import summary
from pjobs.jobtypes import JobContext, JobType, PermanentFailure, RetryPolicy

STEPS = (
    *(f"deprovision.unregister_{service}" for service in SERVICES),
    "deprovision.drop_database",
    "deprovision.revoke_keys",
    "deprovision.deactivate",
)


class DeprovisionPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(pattern=PROJECT_ID_PATTERN)


def deprovision_project(payload: DeprovisionPayload, context: JobContext) -> dict[str, Any]:
    """Unregisters the project from the auth, realtime and storage services, drops its
    tenant database, revokes its API keys, marks it `deprovisioned`, writes the audit
    trail and notifies the owner. A project already deprovisioned is left as it is."""
    project_id = payload.project_id
    control = ControlPlane(context.store)
    adapters = context.adapters
    with control.tx(context.clock.now(), write=False) as tx:
        project = tx.get_project(project_id)
    if project is None:
        raise PermanentFailure(f"no project {project_id}")
    if project.status == "deprovisioned":
        return summary(context, project_id)

    def unregister(service: str) -> Any:
        def step() -> StepOutcome:
            if not adapters.services.configured(service):
                return "skipped", {"reason": f"services.{service}.url is not set"}
            return "done", adapters.services.unregister(service, project_id)

        return step

    def drop_database() -> StepOutcome:
        location = adapters.tenants.location(project_id)
        return "done", {"location": location, "dropped": adapters.tenants.drop(project_id)}

    def revoke_keys() -> StepOutcome:
        with control.tx(context.clock.now()) as tx:
            revoked = tx.revoke_project_keys(project_id)
            tx.audit(context.actor, "key.revoked_all", project_id, data={"count": revoked})
        return "done", {"revoked": revoked}

    def deactivate() -> StepOutcome:
        with control.tx(context.clock.now()) as tx:
            tx.set_project_status(project_id, "deprovisioned")
            tx.set_tenant_database(project_id, None)
            tx.audit(
                context.actor,
                "project.deprovisioned",
                project_id,
                data={"previous_status": project.status},
            )
            adapters.notifier.to_owner(
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
        run_steps(context, project_id, STEPS, actions)
    finally:
        adapters.notifier.deliver_due()
    return summary(context, project_id)


JOB_TYPE = JobType(
    name="deprovision_project",
    payload=DeprovisionPayload,
    handler=deprovision_project,
    retry=RetryPolicy(max_attempts=3, base_delay=2.0, max_delay=300.0),
    description="remove a project: services, tenant database, API keys",
)
