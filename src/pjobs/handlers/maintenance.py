"""The housekeeping job types `pjobs serve` schedules: the API-key expiry sweep
(`expire_keys`), notification delivery and retries (`send_notifications`), and queue
maintenance (`queue_maintenance`: rescue expired leases, purge old finished jobs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from pjobs.handlers.rotate_key import expire_keys
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType
from pjobs.queue.leases import rescue
from pjobs.queue.retry import ONE_SHOT


class NoPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")


def sweep_keys(payload: NoPayload, context: JobContext) -> dict[str, Any]:
    """Marks `expiring` API keys past their grace `expired`, with an audit event each."""
    expired = expire_keys(context.store, context.clock, context.actor)
    return {"expired": [key_id for key_id, _ in expired]}


def send_notifications(payload: NoPayload, context: JobContext) -> dict[str, Any]:
    """Sends the notifications that are due (first tries and retries); each delivery
    problem is recorded on its notification, none fails the job."""
    sent, unsent = context.notifier.deliver_due(limit=10_000)
    return {"sent": sent, "not_sent": unsent}


def queue_maintenance(payload: NoPayload, context: JobContext) -> dict[str, Any]:
    """Requeues (or fails) jobs whose worker stopped renewing their lease, and deletes
    finished jobs (and their attempts) older than `scheduling.finished_job_retention_days`."""
    now = context.clock.now()
    rescued = rescue(context.store, context.settings, context.clock)
    retention = timedelta(days=context.settings.scheduling.finished_job_retention_days)
    purged = context.store.purge_jobs(now - retention)
    return {"rescued": rescued, "purged": purged}


JOB_TYPES = (
    JobType("expire_keys", NoPayload, sweep_keys, ONE_SHOT, description="the key expiry sweep"),
    JobType(
        "send_notifications",
        NoPayload,
        send_notifications,
        ONE_SHOT,
        description="send due notifications (and retries)",
    ),
    JobType(
        "queue_maintenance",
        NoPayload,
        queue_maintenance,
        ONE_SHOT,
        description="rescue expired leases, purge old finished jobs",
    ),
)
