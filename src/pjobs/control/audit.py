"""The audit trail: append-only (the database refuses updates and deletes), one event per
change, naming who did what to which project."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    actor: str
    action: str
    project_id: str | None
    target: str | None
    data: Annotated[dict[str, Any], JSON_TEXT]
    job_id: int | None  # the job that made the change, if a job did


class Audit(Noun):
    def append(
        self,
        actor: str,
        action: str,
        project_id: str | None,
        target: str | None = None,
        data: dict[str, Any] | None = None,
        job_id: int | None = None,
    ) -> None:
        """Append an audit event (the table refuses updates and deletes)."""
        self.append_many(actor, action, [(project_id, target, data or {})], job_id)

    def append_many(
        self,
        actor: str,
        action: str,
        changes: Sequence[tuple[str | None, str | None, dict[str, Any]]],
        job_id: int | None = None,
    ) -> None:
        """Append one event per (project, target, data), in one round trip."""
        self.tx.run_many(
            "insert_audit",
            [
                {"actor": actor, "action": action, "project_id": project, "target": target}
                | {"data": json.dumps(data, sort_keys=True, default=str), "job_id": job_id}
                for project, target, data in changes
            ],
        )

    def recent(self, project_id: str, limit: int = 20) -> list[AuditEvent]:
        """A project's latest events, newest first."""
        return self.tx.records(AuditEvent, "recent_audit_of", project_id=project_id, limit=limit)

    def list(
        self,
        project_id: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Events newest first, optionally of one project and since a time."""
        return self.tx.records(
            AuditEvent, "list_audit", project_id=project_id, since=since, limit=limit, offset=offset
        )
