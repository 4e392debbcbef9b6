"""Abuse detections: every evaluation of an abuse pattern against a project (the seed's
`recordAbuseDetection`), whether it suspended, reported a protected project, or found
nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT


@dataclass(frozen=True)
class Detection:
    id: int
    at: datetime
    project_id: str
    pattern: str
    held: bool
    action: str  # suspended, protected, already_suspended, not_active, nothing
    reason: str
    metrics: Annotated[dict[str, Any], JSON_TEXT]
    sources: Annotated[dict[str, str], JSON_TEXT]  # each figure's: "alert" or "pjobs"
    actor: str
    job_id: int | None


class AbuseDetections(Noun):
    def record(
        self,
        project_id: str,
        pattern: str,
        held: bool,
        action: str,
        reason: str,
        metrics: dict[str, Any],
        actor: str,
        job_id: int | None,
        sources: dict[str, str] | None = None,
    ) -> int:
        """Record one evaluation (`sources`: where each figure came from); its id."""
        row = self.tx.row(
            "insert_abuse_detection",
            project_id=project_id,
            pattern=pattern,
            held=held,
            action=action,
            reason=reason,
            metrics=json.dumps(metrics, sort_keys=True),
            sources=json.dumps(sources or {}, sort_keys=True),
            actor=actor,
            job_id=job_id,
        )
        assert row is not None
        return int(row["id"])

    def list(
        self,
        project_id: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Detection]:
        """Detections newest first, optionally of one project, since a time."""
        return self.tx.records(
            Detection,
            "list_abuse_detections",
            project_id=project_id,
            since=since,
            limit=limit,
            offset=offset,
        )
