"""What the project lifecycle handlers share: the project payload, the recorded-step runner
and the project summary that is their result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pjobs import ids
from pjobs.control import ControlPlane
from pjobs.control.projects import StepOutcome
from pjobs.jobtypes import JobContext

StepResult = tuple[StepOutcome, dict[str, Any]]
StepAction = Callable[[], StepResult]


class ProjectPayload(BaseModel):
    """The payload of a job about one project (more fields in subclasses)."""

    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(pattern=ids.PROJECT_ID.pattern)


def run_steps(
    context: JobContext, project_id: str, order: Sequence[str], actions: dict[str, StepAction]
) -> dict[str, str]:
    """Run, in `order` (the handler's STEPS, which dry runs show too), each step not yet
    recorded for the project, recording each as it completes, so a retry resumes after
    the last completed step. Returns every step's outcome.

    On failure it raises with `failed_step` set on the exception (for the caller's record).
    """
    control = ControlPlane(context.store)
    with control.tx(context.clock.now(), write=False) as tx:
        done = tx.projects.steps(project_id)
    outcomes: dict[str, str] = {name: step.outcome for name, step in done.items()}
    for name in order:
        if name in done:
            continue
        try:
            outcome, detail = actions[name]()
        except Exception as exc:
            exc.failed_step = name  # type: ignore[attr-defined]
            raise
        with control.tx(context.clock.now()) as tx:
            tx.projects.record_step(project_id, name, outcome, detail)
        outcomes[name] = outcome
        context.log.info("%s: %s %s", project_id, name, outcome)
    return outcomes


def failed_step(exc: BaseException) -> str | None:
    step = getattr(exc, "failed_step", None)
    return step if isinstance(step, str) else None


def summary(context: JobContext, project_id: str) -> dict[str, Any]:
    """The project, its steps and its keys (never a secret): a lifecycle job's result."""
    with ControlPlane(context.store).tx(context.clock.now(), write=False) as tx:
        project = tx.projects.get(project_id)
        steps = tx.projects.steps(project_id)
        keys = tx.keys.list(project_id)
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
