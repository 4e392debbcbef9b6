"""Suspending and resuming a project, written once for every path that does it (an
operator, the quota check, the abuse scan, monitoring alerts): the status change, the
audit event, the owner's notification and the platform event, on one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pjobs.domain.events import announce, announce_many

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.control.projects import Project
    from pjobs.queue.context import JobContext

Suspension = Literal["suspended", "already_suspended", "not_active", "busy"]


def suspend(
    context: JobContext, tx: ControlTx, project: Project, reason: str, data: dict[str, Any]
) -> Suspension:
    """Suspend an active project on `tx` whose lifecycle lock the caller holds
    (`project_lock`): it is not taken again (see `suspend_many`)."""
    return suspend_many(context, tx, [(project, reason, data)], locked=True)[project.id]


def suspend_many(
    context: JobContext,
    tx: ControlTx,
    suspensions: Sequence[tuple[Project, str, dict[str, Any]]],
    locked: bool = False,
) -> dict[str, Suspension]:
    """Suspend active projects on `tx`, each for its reason (`data`: what the platform event
    adds to it): their keys stop verifying (exit 13), their owners are told why. Unless the
    caller holds their lifecycle locks (`locked`), each is taken for the change: a project
    another lifecycle job holds is left alone ("busy"). A few statements however many."""
    outcomes: dict[str, Suspension] = {}
    active: dict[str, tuple[Project, str, dict[str, Any]]] = {}
    for project, reason, data in suspensions:
        if project.status == "active":
            active[project.id] = (project, reason, data)
        else:
            outcomes[project.id] = (
                "already_suspended" if project.status == "suspended" else "not_active"
            )
    if not active:
        return outcomes
    held = set(active) if locked else tx.projects.take_locks(active, context.job_id)
    suspended = tx.projects.suspend({pid: active[pid][1] for pid in held})
    if not locked:
        tx.projects.release_locks(held, context.job_id)
    for pid in active:
        outcomes[pid] = (
            "suspended" if pid in suspended else "busy" if pid not in held else "not_active"
        )
    done = [active[pid] for pid in active if pid in suspended]
    announce_many(
        context,
        tx,
        "project.suspended",
        [(p.id, {"reason": reason, **data}) for p, reason, data in done],
    )
    context.notifier.to_owners(
        tx,
        [
            (
                p.owner_id,
                p.id,
                f"Project {p.id} is suspended",
                f"Your project {p.name!r} ({p.id}) was suspended: {reason}. "
                "Its API keys are refused until it is resumed.",
            )
            for p, reason, _ in done
        ],
    )
    return outcomes


def resume(context: JobContext, tx: ControlTx, project: Project, reason: str | None) -> bool:
    """Lift a project's suspension on `tx`; False if it was not suspended."""
    if not tx.projects.resume(project.id):
        return False
    details = {"reason": reason, "suspension_reason": project.suspension_reason}
    announce(context, tx, "project.resumed", project.id, details)
    context.notifier.to_owner(
        tx,
        project.owner_id,
        project.id,
        f"Project {project.id} is active again",
        f"The suspension of your project {project.name!r} ({project.id}) was lifted"
        + (f": {reason}." if reason else "."),
    )
    return True
