"""`provision_project`: create a tenant's project."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pjobs import apikeys
from pjobs.adapters.services import SERVICES
from pjobs.control import ControlPlane
from pjobs.handlers.lifecycle import (
    OWNER_ID_PATTERN,
    PLAN_PATTERN,
    PROJECT_ID_PATTERN,
    REGION_PATTERN,
    StepOutcome,
    failed_step,
    run_steps,
)
from pjobs.jobtypes import JobContext, JobType, PermanentFailure, RetryPolicy

STEPS = (
    "create_database",
    "apply_schema",
    *(f"register_{service}" for service in SERVICES),
    "generate_keys",
    "activate",
)


class ProvisionPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(pattern=PROJECT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    owner_id: str = Field(pattern=OWNER_ID_PATTERN)
    region: str = Field(pattern=REGION_PATTERN)
    plan: str = Field(pattern=PLAN_PATTERN)


def _claim_project(payload: ProvisionPayload, context: JobContext) -> str:
    """Create the project record (or find the one an earlier attempt made); its status."""
    with ControlPlane(context.store).tx(context.clock.now()) as tx:
        tx.ensure_owner(payload.owner_id)
        created = tx.insert_project(
            payload.project_id, payload.name, payload.owner_id, payload.region, payload.plan
        )
        project = tx.get_project(payload.project_id)
        assert project is not None
        if (project.owner_id, project.name) != (payload.owner_id, payload.name):
            raise PermanentFailure(
                f"project {project.id} already exists with owner {project.owner_id!r} "
                f"and name {project.name!r}"
            )
        if project.status == "deprovisioned":
            raise PermanentFailure(f"project {project.id} was deprovisioned; ids are not reused")
        if project.status == "failed":
            tx.set_project_status(project.id, "provisioning")
            tx.audit(context.actor, "project.provision_resumed", project.id)
            return "provisioning"
        if created:
            tx.audit(context.actor, "project.created", project.id, data=payload.model_dump())
        return project.status


def provision_project(payload: ProvisionPayload, context: JobContext) -> dict[str, Any]:
    """Creates the project's tenant database and applies the tenant schema, registers the
    project with the auth, realtime and storage services, generates a publishable and a
    secret API key (revealed once to an inline caller), marks the project active, writes
    the audit trail and notifies the owner. A project already active is left as it is.
    When its last attempt fails, the project is marked `failed` with the failing step."""
    status = _claim_project(payload, context)
    project_id = payload.project_id
    control = ControlPlane(context.store)
    adapters = context.adapters
    if status != "provisioning":
        return summary(context, project_id)

    def create_database() -> StepOutcome:
        created = adapters.tenants.create(project_id)
        location = adapters.tenants.location(project_id)
        with control.tx(context.clock.now()) as tx:
            tx.set_tenant_database(project_id, location)
        return "done", {"location": location, "created": created}

    def apply_schema() -> StepOutcome:
        sql, source = adapters.tenant_schema()
        tables = adapters.tenants.apply_schema(project_id, sql)
        return "done", {"source": source, "tables": tables}

    def register(service: str) -> Any:
        def step() -> StepOutcome:
            if not adapters.services.configured(service):
                return "skipped", {"reason": f"services.{service}.url is not set"}
            return "done", adapters.services.register(service, payload.model_dump())

        return step

    def generate_keys() -> StepOutcome:
        created = []
        with control.tx(context.clock.now()) as tx:
            for kind in ("publishable", "secret"):
                key = apikeys.generate(kind)
                key_id = apikeys.new_key_id()
                version = tx.last_key_version(project_id, kind) + 1
                prefix = apikeys.display_prefix(key)
                tx.insert_key(key_id, project_id, kind, version, prefix, apikeys.digest(key))
                tx.audit(
                    context.actor,
                    "key.created",
                    project_id,
                    f"key:{key_id}",
                    {"kind": kind, "version": version, "prefix": prefix},
                )
                context.reveal(f"{kind}_key", key)
                created.append({"id": key_id, "kind": kind, "prefix": prefix})
        return "done", {"keys": created}

    def activate() -> StepOutcome:
        with control.tx(context.clock.now()) as tx:
            tx.set_project_status(project_id, "active")
            tx.audit(context.actor, "project.provisioned", project_id)
            adapters.notifier.to_owner(
                tx,
                payload.owner_id,
                project_id,
                f"Project {project_id} is ready",
                f"Your project {payload.name!r} ({project_id}) in {payload.region} is active.",
            )
        return "done", {}

    actions = {
        "create_database": create_database,
        "apply_schema": apply_schema,
        **{f"register_{service}": register(service) for service in SERVICES},
        "generate_keys": generate_keys,
        "activate": activate,
    }
    try:
        run_steps(context, project_id, STEPS, actions)
    except Exception as exc:
        if context.last_attempt:
            mark_failed(context, project_id, payload.owner_id, failed_step(exc), exc)
        raise
    finally:
        adapters.notifier.deliver_due()
    return summary(context, project_id)


def mark_failed(
    context: JobContext, project_id: str, owner_id: str, step: str | None, exc: Exception
) -> None:
    error = f"{type(exc).__name__}: {exc}"
    with ControlPlane(context.store).tx(context.clock.now()) as tx:
        tx.set_project_status(project_id, "failed", step, error)
        tx.audit(
            context.actor,
            "project.provision_failed",
            project_id,
            data={"step": step, "error": error},
        )
        subject = f"Provisioning of {project_id} failed"
        body = f"Step {step or '?'} failed: {error}. `pjobs deprovision {project_id}` cleans up."
        context.adapters.notifier.to_owner(tx, owner_id, project_id, subject, body)
        context.adapters.notifier.to_operators(tx, project_id, subject, body)


def summary(context: JobContext, project_id: str) -> dict[str, Any]:
    """The project, its steps and its keys (never a secret): the job's result."""
    with ControlPlane(context.store).tx(context.clock.now(), write=False) as tx:
        project = tx.get_project(project_id)
        steps = tx.steps(project_id)
        keys = tx.list_keys(project_id)
    assert project is not None
    return {
        "project_id": project.id,
        "status": project.status,
        "tenant_database": project.tenant_database,
        "steps": {name: step.outcome for name, step in steps.items()},
        "keys": [
            {
                "id": k.id,
                "kind": k.kind,
                "version": k.version,
                "prefix": k.prefix,
                "status": k.status,
            }
            for k in keys
        ],
    }


JOB_TYPE = JobType(
    name="provision_project",
    payload=ProvisionPayload,
    handler=provision_project,
    retry=RetryPolicy(max_attempts=3, base_delay=2.0, max_delay=300.0),
    description="create a project: tenant database, schema, services, API keys",
)
