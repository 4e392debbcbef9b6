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
            action=action,
        )
        return None if row is None else int(row["id"])

    def acted(self, alert_id: int, action: str, job_id: int | None) -> None:
        """What was done about an alert."""
        self.tx.run("set_alert_action", id=alert_id, action=action, job_id=job_id)

    def list(
        self, source: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> builtins.list[AlertRecord]:
        """Alerts newest first."""
        return self.tx.records(AlertRecord, "list_alerts", source=source, since=since, limit=limit)

    def counts(self) -> dict[tuple[str, str], int]:
        """Alerts received by (source, status)."""
        return {(r["source"], r["status"]): int(r["count"]) for r in self.tx.rows("count_alerts")}
