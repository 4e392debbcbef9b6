"""Backups as recorded: state (`running`, `completed`, `failed`, `pruned`), format,
storage and where the stored copy is, size, SHA-256 and the manifest."""

from __future__ import annotations

import builtins
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT

BackupState = Literal["running", "completed", "failed", "pruned"]


@dataclass(frozen=True)
class Backup:
    id: str
    project_id: str
    state: BackupState
    format: str
    storage: str
    encrypted: bool
    size: int | None
    sha256: str | None
    manifest: Annotated[dict[str, Any] | None, JSON_TEXT]
    locations: Annotated[dict[str, Any] | None, JSON_TEXT]  # parts, manifest
    job_id: int | None
    created_at: datetime
    finished_at: datetime | None
    error: str | None


def new_backup_id(now: datetime) -> str:
    """bk_20261129T030000Z_3fa2c1: sorts by time, unique by its random tail."""
    return f"bk_{now:%Y%m%dT%H%M%SZ}_{secrets.token_hex(3)}"


class Backups(Noun):
    def start(
        self,
        backup_id: str,
        project_id: str,
        fmt: str,
        storage: str,
        encrypted: bool,
        job_id: int | None,
    ) -> bool:
        """Record a backup being made; False if this id already completed."""
        cursor = self.tx.run(
            "start_backup",
            id=backup_id,
            project_id=project_id,
            format=fmt,
            storage=storage,
            encrypted=encrypted,
            job_id=job_id,
        )
        return bool(cursor.rowcount == 1)

    def complete(
        self,
        backup_id: str,
        size: int,
        sha256: str,
        manifest: dict[str, Any],
        locations: dict[str, Any],
    ) -> None:
        """The backup is stored and verified."""
        self.tx.run(
            "complete_backup",
            id=backup_id,
            size=size,
            sha256=sha256,
            manifest=json.dumps(manifest, sort_keys=True, default=str),
            locations=json.dumps(locations, sort_keys=True),
        )

    def record_parts(self, backup_id: str, locations: dict[str, Any]) -> None:
        """What a backup being made has stored so far (removed if it is tried again)."""
        self.tx.run("record_backup_parts", id=backup_id, locations=json.dumps(locations))

    def fail(self, backup_id: str, error: str) -> None:
        """The backup failed for good."""
        self.tx.run("fail_backup", id=backup_id, error=error)

    def prune(self, backup_id: str) -> None:
        """Its stored copy was removed."""
        self.tx.run("prune_backup", id=backup_id)

    def get(self, backup_id: str) -> Backup | None:
        """The backup, or None."""
        return self.tx.record(Backup, "get_backup", id=backup_id)

    def for_job(self, job_id: int) -> Backup | None:
        """The backup a job is making (its earlier attempts started it)."""
        return self.tx.record(Backup, "get_backup_of_job", job_id=job_id)

    def list(
        self,
        project_id: str | None = None,
        state: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> builtins.list[Backup]:
        """Backups newest first."""
        return self.tx.records(
            Backup, "list_backups", project_id=project_id, state=state, limit=limit, offset=offset
        )
