"""The events outbox: every platform event (`project.provisioned`, `key.rotated`,
`project.suspended`, `quota.warning`, …) written in the same transaction as the change it
reports, for webhooks to fan out."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    type: str
    project_id: str | None
    data: Annotated[dict[str, Any], JSON_TEXT]
    actor: str | None
    job_id: int | None


class Events(Noun):
    def emit(
        self,
        event_type: str,
        items: Sequence[tuple[str | None, dict[str, Any]]],
        actor: str | None = None,
        job_id: int | None = None,
    ) -> None:
        """Write one event of this type per (project, data) on this transaction."""
        self.tx.run_many(
            "insert_event",
            [
                {"type": event_type, "project_id": project_id, "actor": actor, "job_id": job_id}
                | {"data": json.dumps(data, sort_keys=True, default=str)}
                for project_id, data in items
            ],
        )

    def list(
        self,
        project_id: str | None = None,
        event_type: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Event]:
        """Events newest first, optionally of one project and type."""
        return self.tx.records(
            Event, "list_events", project_id=project_id, type=event_type, limit=limit, offset=offset
        )

    def after(
        self,
        after_id: int,
        project_id: str | None = None,
        event_type: str | None = None,
        limit: int = 1000,
    ) -> builtins.list[Event]:
        """Events added after the event `after_id`, oldest first (for following them)."""
        return self.tx.records(
            Event,
            "events_after",
            after=after_id,
            project_id=project_id,
            type=event_type,
            limit=limit,
        )
