"""Projects (the tenants' units), and the steps provisioning and deprovisioning recorded
for each, so a retry resumes after the last completed one."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT

ProjectStatus = Literal["provisioning", "active", "suspended", "failed", "deprovisioned"]
StepOutcome = Literal["done", "skipped"]


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    owner_id: str
    region: str
    plan: str
    status: ProjectStatus
    suspension_reason: str | None
    protected: bool
    tenant_database: str | None
    failed_step: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    operation_job_id: int | None  # the job holding the project's lifecycle lock, if any


@dataclass(frozen=True)
class Step:
    step: str
    outcome: StepOutcome
    detail: Annotated[dict[str, Any], JSON_TEXT]
    completed_at: datetime


class Projects(Noun):
    def insert(self, project_id: str, name: str, owner_id: str, region: str, plan: str) -> bool:
        """Insert a project in `provisioning`; False if it already exists."""
        cursor = self.tx.run(
            "insert_project", id=project_id, name=name, owner_id=owner_id, region=region, plan=plan
        )
        return bool(cursor.rowcount == 1)

    def get(self, project_id: str) -> Project | None:
        """The project, or None."""
        return self.tx.record(Project, "get_project", id=project_id)

    def list(
        self,
        status: str | None = None,
        owner_id: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Project]:
        """Projects newest first, optionally of one status or owner."""
        return self.tx.records(
            Project, "list_projects", status=status, owner_id=owner_id, limit=limit, offset=offset
        )

    def backed_up(self) -> builtins.list[str]:
        """The ids of the projects backups are made of (active and suspended ones)."""
        return [row["id"] for row in self.tx.rows("backed_up_project_ids")]

    def set_status(
        self,
        project_id: str,
        status: ProjectStatus,
        failed_step: str | None = None,
        last_error: str | None = None,
    ) -> None:
        """Set the status (and the failed step and error, cleared when None)."""
        self.tx.run(
            "set_project_status",
            id=project_id,
            status=status,
            failed_step=failed_step,
            last_error=last_error,
        )

    def set_tenant_database(self, project_id: str, location: str | None) -> None:
        """Record where the project's tenant database is (None: it has none)."""
        self.tx.run("set_tenant_database", id=project_id, tenant_database=location)

    def steps(self, project_id: str) -> dict[str, Step]:
        """The recorded steps, by name, in the order they completed."""
        steps = self.tx.records(Step, "project_steps", project_id=project_id)
        return {step.step: step for step in steps}

    def record_step(
        self, project_id: str, step: str, outcome: StepOutcome, detail: dict[str, Any]
    ) -> None:
        """Record a completed (or skipped) step, replacing an earlier record of it."""
        self.tx.run(
            "record_step",
            project_id=project_id,
            step=step,
            outcome=outcome,
            detail=json.dumps(detail),
        )

    def get_many(self, project_ids: Iterable[str]) -> dict[str, Project]:
        """The projects of these ids that exist, by id (one query)."""
        found = self.tx.records(Project, "get_projects", ids=self.tx.store.array(list(project_ids)))
        return {project.id: project for project in found}

    def take_lock(self, project_id: str, job_id: int) -> bool:
        """Take the project's lifecycle lock for a job (or find it already has it); False
        while another queued or running job holds it."""
        return project_id in self.take_locks([project_id], job_id)

    def of_unknown_plans(self, plans: Iterable[str], limit: int = 1000) -> builtins.list[str]:
        """Active projects whose plan is none of `plans` (the configured ones)."""
        ids = self.tx.store.array(sorted(plans))
        return [
            row["id"] for row in self.tx.rows("projects_of_unknown_plans", plans=ids, limit=limit)
        ]

    def take_locks(self, project_ids: Iterable[str], job_id: int) -> set[str]:
        """`take_lock` for many projects in one statement: those the job holds now."""
        ids = self.tx.store.array(list(project_ids))
        return {row["id"] for row in self.tx.rows("take_project_locks", ids=ids, job_id=job_id)}

    def release_lock(self, project_id: str, job_id: int) -> None:
        """Let go of the lifecycle lock, if this job holds it."""
        self.release_locks([project_id], job_id)

    def release_locks(self, project_ids: Iterable[str], job_id: int) -> None:
        """`release_lock` for many projects in one statement."""
        ids = self.tx.store.array(list(project_ids))
        self.tx.run("release_project_locks", ids=ids, job_id=job_id)

    def suspend(self, reasons: Mapping[str, str]) -> set[str]:
        """Suspend the active ones of these projects (id: reason) in one statement; the
        ids this call suspended."""
        rows = json.dumps([{"id": pid, "reason": reason} for pid, reason in reasons.items()])
        return {row["id"] for row in self.tx.rows("suspend_projects", rows=rows)}

    def resume(self, project_id: str) -> bool:
        """Lift a suspension; False if the project was not suspended."""
        return bool(self.tx.rows("resume_project", id=project_id))

    def set_protected(self, project_id: str, protected: bool) -> None:
        """Mark a project protected (never suspended automatically, only reported) or not."""
        self.tx.run("set_project_protected", id=project_id, protected=protected)

    def counts(self) -> dict[str, int]:
        """How many there are, by status."""
        return {r["status"]: int(r["count"]) for r in self.tx.rows("count_projects")}
