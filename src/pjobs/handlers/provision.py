"""`provision_project`: create a tenant's project."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pjobs import ids
from pjobs.adapters.services import SERVICES
from pjobs.adapters.tenants import ForeignDatabase
from pjobs.control.projects import Project
from pjobs.domain import apikeys
from pjobs.domain.events import announce
from pjobs.domain.quotas import known_plan
from pjobs.errors import InvalidInputError
from pjobs.handlers.lifecycle import (
    ProjectPayload,
    StepResult,
    failed_step,
    project_lock,
    run_steps,
    seed,
    summary,
)
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType, PermanentFailure, Refused
from pjobs.queue.retry import RetryPolicy
from pjobs.tenant_schema import load_tenant_schema

STEPS = (
    "create_database",
    "apply_schema",
    *(f"register_{service}" for service in SERVICES),
    "generate_keys",
    "activate",
)


class ProvisionPayload(ProjectPayload):
    name: str = Field(pattern=ids.text_pattern(200), validation_alias=seed("name", "projectName"))
    owner_id: str = Field(
        pattern=ids.OWNER_ID.pattern, validation_alias=seed("owner_id", "ownerId")
    )
    region: str = Field(pattern=ids.REGION.pattern)
    plan: str | None = Field(None, pattern=ids.PLAN.pattern)  # None: the default_plan setting

    @property
    def chosen_plan(self) -> str:
        assert self.plan is not None, "provision_project chooses it first"
        return self.plan


def _create_record(payload: ProvisionPayload, context: JobContext) -> None:
    """Create the project record in `provisioning`, unless it exists already."""
    with context.tx() as tx:
        tx.owners.ensure(payload.owner_id)
        created = tx.projects.insert(
            payload.project_id, payload.name, payload.owner_id, payload.region, payload.chosen_plan
        )
        if created:
            context.audit(tx, "project.created", payload.project_id, data=payload.model_dump())


def provision_conflict(project: Project, payload: ProvisionPayload) -> str | None:
    """Why provisioning this payload cannot go on, given the project of that id (None: it
    can: a new project, one to resume, or the same one again, which changes nothing)."""
    if (project.owner_id, project.name) != (payload.owner_id, payload.name):
        return (
            f"project {project.id} already exists with owner {project.owner_id!r} "
            f"and name {project.name!r}"
        )
    if project.status == "deprovisioned":
        return f"project {project.id} was deprovisioned; ids are not reused"
    return None


def _claim_project(payload: ProvisionPayload, context: JobContext) -> str:
    """With the project's lock held: check the record is this project's; its status."""
    with context.tx() as tx:
        project = tx.projects.get(payload.project_id)
        assert project is not None
        conflict = provision_conflict(project, payload)
        if conflict:
            raise Refused(conflict)
        if project.status == "failed":
            tx.projects.set_status(project.id, "provisioning")
            context.audit(tx, "project.provision_resumed", project.id)
            return "provisioning"
        return project.status


def provision_project(payload: ProvisionPayload, context: JobContext) -> dict[str, Any]:
    """Creates the project's tenant database and applies the tenant schema, registers the
    project with the auth, realtime and storage services, generates a publishable and a
    secret API key (revealed once to an inline caller), marks the project active, writes
    the audit trail and notifies the owner. A project already active is left as it is.
    When its last attempt fails, the project is marked `failed` with the failing step.
    It holds the project's lifecycle lock throughout (see `project_lock`). A plan the
    configuration does not have is refused (a project of it would have no quotas)."""
    if payload.plan is None:  # the seed's jobs name none
        payload = payload.model_copy(update={"plan": context.settings.default_plan})
    try:
        known_plan(context.settings, payload.chosen_plan)
    except InvalidInputError as exc:
        raise Refused(str(exc)) from None
    _create_record(payload, context)
    with project_lock(context, payload.project_id):
        return _provision(payload, context)


def _provision(payload: ProvisionPayload, context: JobContext) -> dict[str, Any]:
    status = _claim_project(payload, context)
    project_id = payload.project_id
    outside = context.integrations
    if status != "provisioning":
        return summary(context, project_id)

    def create_database() -> StepResult:
        try:
            created = outside.tenants.create(project_id)
        except ForeignDatabase as exc:
            raise Refused(str(exc)) from None
        location = outside.tenants.location(project_id)
        with context.tx() as tx:
            tx.projects.set_tenant_database(project_id, location)
        return "done", {"location": location, "created": created}

    def apply_schema() -> StepResult:
        sql, source = load_tenant_schema(context.settings)
        tables = outside.tenants.apply_schema(project_id, sql)
        return "done", {"source": source, "tables": tables}

    def register(service: str) -> Any:
        def step() -> StepResult:
            if not outside.services.configured(service):
                return "skipped", {"reason": f"services.{service}.url is not set"}
            return "done", outside.services.register(service, payload.model_dump())

        return step

    def generate_keys() -> StepResult:
        created = []
        with context.tx() as tx:
            for kind in ("publishable", "secret"):
                key = apikeys.issue(tx, project_id, kind, apikeys.new_key_id())
                context.audit(
                    tx,
                    "key.created",
                    project_id,
                    f"key:{key.id}",
                    {"kind": kind, "version": key.version, "prefix": key.prefix},
                )
                context.reveal(f"{kind}_key", key.secret)
                created.append({"id": key.id, "kind": kind, "prefix": key.prefix})
        return "done", {"keys": created}

    def activate() -> StepResult:
        with context.tx() as tx:
            tx.projects.set_status(project_id, "active")
            announce(
                context,
                tx,
                "project.provisioned",
                project_id,
                {"name": payload.name, "owner_id": payload.owner_id, "region": payload.region}
                | {"plan": payload.chosen_plan},
            )
            context.notifier.to_owner(
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
        if context.last_attempt or isinstance(exc, PermanentFailure):
            mark_failed(context, project_id, payload.owner_id, failed_step(exc), exc)
        raise
    finally:
        context.notifier.deliver_due()
    return summary(context, project_id)


def mark_failed(
    context: JobContext, project_id: str, owner_id: str, step: str | None, exc: Exception
) -> None:
    error = f"{type(exc).__name__}: {exc}"
    with context.tx() as tx:
        tx.projects.set_status(project_id, "failed", step, error)
        context.audit(
            tx,
            "project.provision_failed",
            project_id,
            data={"step": step, "error": error},
        )
        subject = f"Provisioning of {project_id} failed"
        body = f"Step {step or '?'} failed: {error}. `pjobs deprovision {project_id}` cleans up."
        context.notifier.to_owner(tx, owner_id, project_id, subject, body)
        context.notifier.to_operators(tx, project_id, subject, body)


JOB_TYPE = JobType(
    "provision_project",
    ProvisionPayload,
    provision_project,
    RetryPolicy(3, 2.0, 300.0),
    description="create a project: tenant database, schema, services, API keys",
)
