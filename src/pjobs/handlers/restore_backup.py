"""`restore_backup`: a backup restored into a project's tenant database (created if it is
missing), under the project's lifecycle lock; refused over a database that holds tables
unless `force`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pjobs import ids
from pjobs.backups import operations
from pjobs.backups.stream import CorruptBackup
from pjobs.errors import ConfigError, InvalidInputError
from pjobs.handlers.lifecycle import project_lock
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType, Misconfigured, Refused
from pjobs.queue.retry import ONE_SHOT


class RestoreBackupPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backup_id: str = Field(pattern=ids.BACKUP_ID.pattern)
    project_id: str = Field(pattern=ids.PROJECT_ID.pattern)  # the project restored into
    force: bool = False  # replace what the database holds


def restore_backup(payload: RestoreBackupPayload, context: JobContext) -> dict[str, Any]:
    """Restores the backup (any project's) into the project's tenant database, all or
    nothing, and records `backup.restored` in the audit trail."""
    with context.tx(write=False) as tx:
        backup = tx.backups.get(payload.backup_id)
        project = tx.projects.get(payload.project_id)
    if backup is None:
        raise Refused(f"no backup {payload.backup_id}")
    if project is None or project.status in ("deprovisioned", "provisioning"):
        state = "missing" if project is None else project.status
        raise Refused(f"project {payload.project_id} is {state}: nothing to restore into")
    tenants = context.integrations.tenants
    with project_lock(context, project.id):
        tenants.create(project.id)
        try:
            result = operations.restore(
                context.integrations,
                context.settings,
                backup,
                tenants.database(project.id),
                payload.force,
            )
        except CorruptBackup as exc:
            raise Refused(f"backup {backup.id} is damaged: {exc}; nothing was restored") from None
        except InvalidInputError as exc:
            raise Refused(str(exc)) from None
        except ConfigError as exc:
            raise Misconfigured(str(exc)) from None
        tenants.mark(project.id)  # a restored SQLite file is a new file
        with context.tx() as tx:
            data = {k: result[k] for k in ("tables", "rows", "differ")}
            data["backup_of"] = backup.project_id
            context.audit(tx, "backup.restored", project.id, backup.id, data)
    return {**result, "project_id": project.id, "backup_of": backup.project_id}


JOB_TYPE = JobType(
    "restore_backup",
    RestoreBackupPayload,
    restore_backup,
    ONE_SHOT,
    queue="backups",
    description="restore a backup into a project's tenant database",
)
