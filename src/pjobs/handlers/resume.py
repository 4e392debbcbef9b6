"""`resume_project`: lift a project's suspension."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pjobs import ids
from pjobs.handlers.lifecycle import ProjectPayload, project_lock, summary
from pjobs.handlers.suspension import resume
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType, Refused
from pjobs.queue.retry import ONE_SHOT


class ResumePayload(ProjectPayload):
    reason: str | None = Field(None, pattern=ids.text_pattern(500))


def resume_project(payload: ResumePayload, context: JobContext) -> dict[str, Any]:
    """Lifts the suspension: the project is active again and its keys verify; audit event,
    owner notified, `project.resumed`. A project that is not suspended is left as it is."""
    with project_lock(context, payload.project_id):
        with context.tx() as tx:
            project = tx.projects.get(payload.project_id)
            if project is None:
                raise Refused(f"no project {payload.project_id}")
            if project.status not in ("suspended", "active"):
                raise Refused(f"project {project.id} is {project.status}, not suspended")
            resumed = resume(context, tx, project, payload.reason)
        context.notifier.deliver_due()
    return {**summary(context, project.id), "resumed": resumed}


JOB_TYPE = JobType(
    "resume_project",
    ResumePayload,
    resume_project,
    ONE_SHOT,
    description="lift a project's suspension",
)
