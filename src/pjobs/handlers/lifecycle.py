"""What the project lifecycle handlers share: id rules and the recorded-step runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pjobs.control import ControlPlane
from pjobs.jobtypes import JobContext

PROJECT_ID_PATTERN = r"^[a-z][a-z0-9-]{2,62}$"
OWNER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$"
REGION_PATTERN = r"^[a-z0-9][a-z0-9-]{1,31}$"
PLAN_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
KEY_ID_PATTERN = r"^key_[0-9a-f]{16}$"

StepOutcome = tuple[Literal["done", "skipped"], dict[str, Any]]
StepAction = Callable[[], StepOutcome]


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
        done = tx.steps(project_id)
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
            tx.record_step(project_id, name, outcome, detail)
        outcomes[name] = outcome
        context.log.info("%s: %s %s", project_id, name, outcome)
    return outcomes


def failed_step(exc: BaseException) -> str | None:
    step = getattr(exc, "failed_step", None)
    return step if isinstance(step, str) else None
