"""Monitoring alerts as received (Alertmanager, Grafana, Datadog, the generic shape), each
kept with what was done about it."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT


@dataclass(frozen=True)
class AlertRecord:
    id: int
    received_at: datetime
    source: str
    dedupe_key: str
    status: str
    name: str | None
    project_id: str | None
    pattern: str | None
    labels: Annotated[dict[str, Any], JSON_TEXT]
    metrics: Annotated[dict[str, float], JSON_TEXT]  # the figures it carried
    action: str
    job_id: int | None


class Alerts(Noun):
    def record(
        self,
        source: str,
        dedupe_key: str,
        status: str,
        name: str | None,
        project_id: str | None,
        pattern: str | None,
        labels: dict[str, Any],
        action: str,
        metrics: dict[str, float] | None = None,
    ) -> int | None:
        """Keep an alert; its id, or None if this one (source, key, status) was seen."""
        row = self.tx.row(
            "insert_alert",
            source=source,
            dedupe_key=dedupe_key,
            status=status,
            name=name,
            project_id=project_id,
            pattern=pattern,
            labels=json.dumps(labels, sort_keys=True),
            metrics=json.dumps(metrics or {}, sort_keys=True),
            action=action,
        )
        return None if row is None else int(row["id"])

    def get(self, alert_id: int) -> AlertRecord | None:
        found = self.tx.records(AlertRecord, "get_alert", id=alert_id)
        return found[0] if found else None

    def firing_of(self, source: str, dedupe_key: str) -> AlertRecord | None:
        """The firing alert a resolution of this source and key ends, if it was received."""
        found = self.tx.records(
            AlertRecord, "firing_alert_of", source=source, dedupe_key=dedupe_key
        )
        return found[0] if found else None

    def acted(self, alert_id: int, action: str, job_id: int | None) -> None:
        """What was done about an alert."""
        self.tx.run("set_alert_action", id=alert_id, action=action, job_id=job_id)

    def list(
        self,
        source: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
        project_id: str | None = None,
        offset: int = 0,
    ) -> builtins.list[AlertRecord]:
        """Alerts newest first, of a source and a project (or any)."""
        return self.tx.records(
            AlertRecord,
            "list_alerts",
            source=source,
            since=since,
            limit=limit,
            project_id=project_id,
            offset=offset,
        )

    def counts(self) -> dict[tuple[str, str], int]:
        """Alerts received by (source, status)."""
        return {(r["source"], r["status"]): int(r["count"]) for r in self.tx.rows("count_alerts")}
