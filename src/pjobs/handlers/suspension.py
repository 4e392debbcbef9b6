"""Suspending and resuming a project, written once for every path that does it (an
operator, the quota check, the abuse scan, monitoring alerts): the status change, the
audit event, the owner's notification and the platform event, on one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.control.projects import Project
    from pjobs.jobtypes import JobContext

Suspension = Literal["suspended", "already_suspended", "not_active", "busy"]


def suspend(
    context: JobContext, tx: ControlTx, project: Project, reason: str, data: dict[str, Any]
) -> Suspension:
    """Suspend an active project on `tx`: its keys stop verifying (exit 13), its owner is
    told why. A project another lifecycle job holds is left alone ("busy")."""
    if project.status == "suspended":
        return "already_suspended"
    if project.status != "active":
        return "not_active"
    if not tx.projects.take_lock(project.id, context.job_id):
        return "busy"
    tx.projects.suspend(project.id, reason)
    tx.projects.release_lock(project.id, context.job_id)
    details = {"reason": reason, **data}
    context.announce(tx, "project.suspended", project.id, details)
    context.notifier.to_owner(
        tx,
        project.owner_id,
        project.id,
        f"Project {project.id} is suspended",
        f"Your project {project.name!r} ({project.id}) was suspended: {reason}. "
        "Its API keys are refused until it is resumed.",
    )
    return "suspended"


def resume(context: JobContext, tx: ControlTx, project: Project, reason: str | None) -> bool:
    """Lift a project's suspension on `tx`; False if it was not suspended."""
    if not tx.projects.resume(project.id):
        return False
    details = {"reason": reason, "suspension_reason": project.suspension_reason}
    context.announce(tx, "project.resumed", project.id, details)
    context.notifier.to_owner(
        tx,
        project.owner_id,
        project.id,
        f"Project {project.id} is active again",
        f"The suspension of your project {project.name!r} ({project.id}) was lifted"
        + (f": {reason}." if reason else "."),
    )
    return True
