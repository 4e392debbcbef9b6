"""`export_backup`: a project's tenant database dumped, compressed, encrypted (when a backup
key is set), stored, read back and checked; only then `completed`. With `all`, one such job
is enqueued for every active and suspended project."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pjobs import ids
from pjobs.backups import archive, retention
from pjobs.backups.setup import backup_key, dump_database, refuse_plain_remote
from pjobs.control import ControlPlane
from pjobs.control.backups import Backup, new_backup_id
from pjobs.domain.events import announce
from pjobs.errors import ConfigError, InvalidInputError
from pjobs.handlers.lifecycle import seed
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType, Misconfigured, PermanentFailure, Refused
from pjobs.queue.retry import RetryPolicy

BACKED_UP = ("active", "suspended")


class ExportBackupPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str | None = Field(
        None, pattern=ids.PROJECT_ID.pattern, validation_alias=seed("project_id", "projectId")
    )
    all: bool = False
    # the seed's exportType: its one kind, "full", is what every backup is
    export_type: Literal["full"] | None = Field(
        None, validation_alias=seed("export_type", "exportType"), exclude=True
    )
    format: Literal["sql", "custom"] | None = None  # default: backups.format
    storage: Literal["local", "telegram"] | None = None  # default: backups.storage
    unencrypted: bool = False  # an operator's word: to Telegram without a backup key

    @model_validator(mode="after")
    def _one_scope(self) -> ExportBackupPayload:
        if self.all == (self.project_id is not None):
            raise ValueError("give project_id or all (one of them)")
        return self


def export_backup(payload: ExportBackupPayload, context: JobContext) -> dict[str, Any]:
    """Makes one backup (its id kept across attempts): dumped from a consistent snapshot,
    sealed, stored in parts, every part read back and checked; then `backup.completed`,
    the owner told, and retention applied to the project's older backups. A failure is
    retried per policy; the last one is `backup.failed` and the owner is told. What a
    failed attempt stored is removed."""
    if payload.all:
        return export_all(payload, context)
    assert payload.project_id is not None
    cfg = context.settings.backups
    fmt, where = payload.format or cfg.format, payload.storage or cfg.storage
    try:
        key = backup_key(context.settings)
        refuse_plain_remote(context.settings, where, key, payload.unencrypted)
        store = context.integrations.backup_storage(where)
    except ConfigError as exc:
        raise Misconfigured(str(exc)) from None
    backup = begin(context, payload.project_id, fmt, where, key is not None)
    if backup.locations:  # what an interrupted attempt stored
        store.remove(list(backup.locations.get("parts", [])))
    stored: list[dict[str, Any]] = []

    def on_part(location: dict[str, Any]) -> None:
        stored.append(location)
        with context.tx() as tx:
            tx.backups.record_parts(backup.id, {"parts": stored})

    meta = {
        "backup_id": backup.id,
        "project_id": backup.project_id,
        "created_at": backup.created_at.isoformat(),
        "format": fmt,
        "storage": where,
    }
    try:
        database = context.integrations.tenants.database(backup.project_id)
        dump = dump_database(database, fmt, context.settings)
        made = archive.make(dump, store, meta, cfg.compression_level, key, on_part)
    except ConfigError as exc:  # trying again cannot help
        failed(context, backup, str(exc))
        raise Misconfigured(str(exc)) from None
    except InvalidInputError as exc:
        failed(context, backup, str(exc))
        raise PermanentFailure(str(exc)) from None
    except Exception as exc:
        if context.last_attempt:
            failed(context, backup, f"{exc}")
        raise
    completed(context, backup, made)
    pruned = apply_retention(context, backup.project_id)
    return {
        "backup_id": backup.id,
        "project_id": backup.project_id,
        "format": fmt,
        "storage": where,
        "encrypted": key is not None,
        "size": made.size,
        "sha256": made.sha256,
        "parts": len(made.locations["parts"]),
        "tables": len(made.manifest["tables"]),
        "rows": sum(int(t["rows"]) for t in made.manifest["tables"]),
        "pruned": pruned,
    }


def begin(context: JobContext, project_id: str, fmt: str, where: str, encrypted: bool) -> Backup:
    """The backup this job makes, recorded as running (an earlier attempt's, if any)."""
    with context.tx() as tx:
        project = tx.projects.get(project_id)
        if project is None:
            raise Refused(f"no project {project_id}")
        if project.status not in BACKED_UP:
            raise Refused(
                f"project {project_id} is {project.status}: only active and suspended projects "
                "are backed up"
            )
        earlier = tx.backups.for_job(context.job_id)
        backup_id = earlier.id if earlier else new_backup_id(tx.now)
        tx.backups.start(backup_id, project_id, fmt, where, encrypted, context.job_id)
        backup = tx.backups.get(backup_id)
    assert backup is not None
    return backup


def completed(context: JobContext, backup: Backup, made: archive.Made) -> None:
    with context.tx() as tx:
        tx.backups.complete(backup.id, made.size, made.sha256, made.manifest, made.locations)
        data = {"backup_id": backup.id, "size": made.size, "sha256": made.sha256}
        announce(context, tx, "backup.completed", backup.project_id, data, target=backup.id)
        tell_owner(
            context,
            tx,
            backup.project_id,
            f"Backup {backup.id} of {backup.project_id} is done",
            f"{made.size:,} bytes in {backup.storage} storage, SHA-256 {made.sha256}; read "
            "back and checked.",
        )


def failed(context: JobContext, backup: Backup, error: str) -> None:
    with context.tx() as tx:
        tx.backups.fail(backup.id, error[:1000])
        data = {"backup_id": backup.id, "error": error[:1000]}
        announce(context, tx, "backup.failed", backup.project_id, data, target=backup.id)
        tell_owner(
            context,
            tx,
            backup.project_id,
            f"Backup of {backup.project_id} failed",
            f"Backup {backup.id} failed after {context.attempt} attempt(s): {error[:300]}",
        )


def tell_owner(context: JobContext, tx: Any, project_id: str, subject: str, body: str) -> None:
    project = tx.projects.get(project_id)
    if project is not None:
        context.notifier.to_owner(tx, project.owner_id, project_id, subject, body)


def apply_retention(context: JobContext, project_id: str) -> list[str]:
    """Prune the project's backups that the configured retention lets go."""
    cfg = context.settings.backups
    age = None if cfg.max_age_days is None else timedelta(days=cfg.max_age_days)
    now = context.clock.now()
    with context.tx(write=False) as tx:
        found = tx.backups.list(project_id, "completed")
    chosen = retention.expired(found, cfg.keep, age, now)
    retention.prune(
        ControlPlane(context.store), context.integrations, context.settings, chosen, now
    )
    return [b.id for b in chosen]


def export_all(payload: ExportBackupPayload, context: JobContext) -> dict[str, Any]:
    """One `export_backup` job for every active and suspended project, on one transaction."""
    options = {"format": payload.format, "storage": payload.storage}
    chosen: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if payload.unencrypted:
        chosen["unencrypted"] = True
    with context.tx() as tx:
        projects = tx.projects.backed_up()
        payloads = [{"project_id": p, **chosen} for p in projects]
        jobs = context.enqueue_many(tx, "export_backup", payloads)
    return {"projects": len(projects), "jobs": [j.id for j in jobs]}


JOB_TYPE = JobType(
    "export_backup",
    ExportBackupPayload,
    export_backup,
    RetryPolicy(3, 30.0, 1800.0),
    queue="backups",
    description="back up a project's tenant database, stored and checked",
    time_limit=6 * 3600.0,
)
