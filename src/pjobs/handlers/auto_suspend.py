"""`auto_suspend`: evaluate an abuse pattern against a project (or take an operator's
reason), record the detection whatever it finds, and suspend when it holds."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from pjobs import ids
from pjobs.control import ControlTx
from pjobs.control.projects import Project
from pjobs.domain import abuse
from pjobs.handlers.lifecycle import ProjectPayload, project_lock, seed
from pjobs.handlers.suspension import suspend
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType, Refused
from pjobs.queue.retry import ONE_SHOT

if TYPE_CHECKING:
    from pjobs.settings.config import Settings

Pattern = Literal["excessive_usage", "error_spike", "suspicious_pattern"]
OPERATOR = "operator"  # the pattern recorded for an operator's suspension


class AutoSuspendPayload(ProjectPayload):
    # the seed's patternType: EXCESSIVE_USAGE, ERROR_SPIKE, SUSPICIOUS_PATTERN
    pattern: Pattern | None = Field(None, validation_alias=seed("pattern", "patternType"))
    metrics: dict[str, Any] = Field(default_factory=dict, max_length=50)
    reason: str | None = Field(None, pattern=ids.text_pattern(500))
    force: bool = False  # an operator suspends a protected project on purpose
    # the monitoring system's word is enough (receiver.policies: act): no evaluation
    decided: bool = False
    # the seed's enforceAction: false evaluates and records, and suspends nothing
    enforce: bool = Field(True, validation_alias=seed("enforce", "enforceAction"))

    @field_validator("pattern", mode="before")
    @classmethod
    def _seed_pattern(cls, value: Any) -> Any:
        """The seed's AbusePatternType values are pjobs' in capitals."""
        return value.lower() if isinstance(value, str) and value.isupper() else value

    @model_validator(mode="after")
    def _pattern_or_reason(self) -> AutoSuspendPayload:
        if self.pattern is None and self.reason is None:
            raise ValueError("give a pattern to evaluate, or an operator's reason")
        for name, value in self.metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ValueError(f"metric {name!r} must be a number")
            if value in (float("inf"), float("-inf")):
                raise ValueError(f"metric {name!r} must be finite")
        return self


def protected_refusal(project: Project, pattern: str | None, force: bool) -> str | None:
    """Why an operator's suspension (no pattern to evaluate) of a protected project is
    refused without `force` (None: it may go on); the command says it before enqueueing,
    the handler when it runs. An evaluated pattern on a protected project is reported."""
    if pattern is None and project.protected and not force:
        return f"project {project.id} is protected: suspend it with --force"
    return None


def judge(
    tx: ControlTx, now: datetime, settings: Settings, payload: AutoSuspendPayload, project: Project
) -> tuple[abuse.Evaluation, str]:
    """The evaluation and what it calls for (suspend, protected, already_suspended,
    not_active, nothing); changes nothing, so dry runs use it too."""
    given = {name: float(value) for name, value in payload.metrics.items()}
    if payload.pattern is None:
        evaluation = abuse.Evaluation(OPERATOR, True, payload.reason or "", given)
    elif payload.decided:
        why = "the monitoring alert is enough (receiver policy act)"
        evaluation = abuse.Evaluation(
            payload.pattern, True, why, given, dict.fromkeys(given, "alert")
        )
    else:
        measured = abuse.measured(tx, project.id, now, settings.abuse.window_seconds)
        evaluation = abuse.with_evidence(payload.pattern, given, measured, settings)
    if not evaluation.held:
        return evaluation, "nothing"
    if project.protected and not payload.force:
        return evaluation, "protected"
    if project.status == "suspended":
        return evaluation, "already_suspended"
    return evaluation, "suspend" if project.status == "active" else "not_active"


def auto_suspend(payload: AutoSuspendPayload, context: JobContext) -> dict[str, Any]:
    """Evaluates the pattern (an excessive request rate against the project's baseline, an
    error spike, a suspicious pattern raised by monitoring) or takes an operator's reason;
    records the detection whatever it finds; suspends the project when it holds, unless the
    project is protected (reported to the operators instead) or already suspended."""
    with project_lock(context, payload.project_id):
        with context.tx() as tx:
            project = tx.projects.get(payload.project_id)
            if project is None:
                raise Refused(f"no project {payload.project_id}")
            if (refusal := protected_refusal(project, payload.pattern, payload.force)) is not None:
                raise Refused(refusal)
            evaluation, action = judge(tx, tx.now, context.settings, payload, project)
            reason = reason_of(payload, evaluation)
            if action == "suspend" and not payload.enforce:
                action = "not_enforced"  # would suspend: recorded only
            if action == "suspend":
                data = {"pattern": evaluation.pattern, "metrics": evaluation.metrics}
                action = suspend(context, tx, project, reason, data)
            elif action == "protected":
                context.notifier.to_operators(
                    tx,
                    project.id,
                    f"Protected project {project.id} matched {evaluation.pattern}",
                    f"Not suspended (protected): {reason}",
                )
            tx.abuse.record(
                project.id,
                evaluation.pattern,
                evaluation.held,
                action,
                reason,
                evaluation.metrics,
                context.actor,
                context.job_id,
                evaluation.sources,
            )
    context.notifier.deliver_due()
    return {
        "project_id": project.id,
        "pattern": evaluation.pattern,
        "held": evaluation.held,
        "action": action,
        "reason": reason,
        "metrics": evaluation.metrics,
        "sources": evaluation.sources,
    }


def reason_of(payload: AutoSuspendPayload, evaluation: abuse.Evaluation) -> str:
    """What a suspension says: an operator's reason, else the pattern's verdict with its
    figures (and what the alert said, when it said something)."""
    if payload.pattern is None:
        return payload.reason or ""
    verdict = f"{evaluation.pattern}: {evaluation.reason}"
    return f"{verdict} ({payload.reason})" if payload.reason else verdict


JOB_TYPE = JobType(
    "auto_suspend",
    AutoSuspendPayload,
    auto_suspend,
    ONE_SHOT,
    description="evaluate an abuse pattern; record it; suspend the project when it holds",
)
