"""What the project lifecycle handlers share: the project payload, the recorded-step runner
and the project summary that is their result."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from pjobs import ids
from pjobs.control.projects import StepOutcome
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import RetryAfter

StepResult = tuple[StepOutcome, dict[str, Any]]
StepAction = Callable[[], StepResult]


def seed(name: str, seed_name: str) -> AliasChoices:
    """A field taken by its name or by the seed's (the TypeScript original's camelCase):
    jobs its enqueue functions wrote run unchanged; pjobs' own name is the one shown."""
    return AliasChoices(name, seed_name)


class ProjectPayload(BaseModel):
    """The payload of a job about one project (more fields in subclasses)."""

    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(
        pattern=ids.PROJECT_ID.pattern, validation_alias=seed("project_id", "projectId")
    )


@contextmanager
def project_lock(context: JobContext, project_id: str) -> Iterator[None]:
    """Hold the project's lifecycle lock while the block runs, so provision, deprovision,
    suspend, resume and restore of one project never interleave. Another job's lock is
    waited for (up to `projects.lock_wait_seconds`, then the attempt is retried later);
    the lock goes with the block, or with the job if its process dies."""
    deadline = time.monotonic() + context.settings.projects.lock_wait_seconds
    pause = 0.02
    while True:
        with context.tx() as tx:
            if tx.projects.take_lock(project_id, context.job_id):
                break
            project = tx.projects.get(project_id)
        holder = project.operation_job_id if project else None
        if time.monotonic() >= deadline:
            raise RetryAfter(
                context.settings.projects.lock_wait_seconds,
                f"project {project_id} is busy with job {holder}; try again when it ends",
            )
        context.log.info("%s: waiting for job %s to finish with it", project_id, holder)
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
    try:
        yield
    finally:
        with context.tx() as tx:
            tx.projects.release_lock(project_id, context.job_id)


class ProjectsScope(BaseModel):
    """The payload of a job about all active projects (`all`) or the named ones."""

    model_config = ConfigDict(extra="forbid")

    all: bool = Field(False, validation_alias=seed("all", "checkAll"))
    project_ids: list[Annotated[str, Field(pattern=ids.PROJECT_ID.pattern)]] = Field(
        default_factory=list, max_length=100_000, validation_alias=seed("project_ids", "projectIds")
    )
    # False: find and record, change nothing else (the seed's dry run)
    enforce: bool = Field(True, validation_alias=seed("enforce", "enforceLimits"))

    @model_validator(mode="after")
    def _one_scope(self) -> ProjectsScope:
        if self.all == bool(self.project_ids):
            raise ValueError("give all or project_ids (one of them)")
        return self

    @property
    def selected(self) -> list[str] | None:
        return None if self.all else sorted(set(self.project_ids))


def run_steps(
    context: JobContext,
    project_id: str,
    order: Sequence[str],
    actions: dict[str, StepAction],
    resume: bool = True,
) -> dict[str, str]:
    """Run, in `order` (the handler's STEPS, which dry runs show too), each step, recording
    each as it completes. With `resume`, steps already recorded are skipped, so a retry
    resumes after the last completed step; without it every step runs (each must then be
    safe to repeat). Returns every step's outcome.

    On failure it raises with `failed_step` set on the exception (for the caller's record).
    """
    done = {}
    if resume:
        with context.tx(write=False) as tx:
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
        with context.tx() as tx:
            tx.projects.record_step(project_id, name, outcome, detail)
        outcomes[name] = outcome
        context.log.info("%s: %s %s", project_id, name, outcome)
    return outcomes


def failed_step(exc: BaseException) -> str | None:
    step = getattr(exc, "failed_step", None)
    return step if isinstance(step, str) else None


def summary(context: JobContext, project_id: str) -> dict[str, Any]:
    """The project, its steps and its keys (never a secret): a lifecycle job's result."""
    with context.tx(write=False) as tx:
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
