"""Monitoring alerts as received (Alertmanager, Grafana, Datadog, the generic shape), each
kept with what was done about it; and the ticks of the schedules, each fired once across
every `serve` process."""

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


@dataclass(frozen=True)
class Tick:
    schedule: str
    fire_at: datetime
    job_id: int | None
    job_state: str | None


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
            "insert_alert", source=source, dedupe_key=dedupe_key, status=status, name=name,
            project_id=project_id, pattern=pattern, labels=json.dumps(labels, sort_keys=True),
            action=action,
        )  # fmt: skip
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

    def fire_tick(self, schedule: str, fire_at: datetime) -> bool:
        """Claim a schedule's tick; False if another process fired it already."""
        return self.tx.row("insert_tick", schedule=schedule, fire_at=fire_at) is not None

    def tick_job(self, schedule: str, fire_at: datetime, job_id: int) -> None:
        """The job a tick enqueued."""
        self.tx.run("set_tick_job", schedule=schedule, fire_at=fire_at, job_id=job_id)

    def last_ticks(self) -> dict[str, Tick]:
        """Each schedule's latest tick, with its job's state."""
        return {t.schedule: t for t in self.tx.records(Tick, "last_ticks")}

    def ticks(self, schedule: str, limit: int = 100) -> builtins.list[Tick]:
        """A schedule's ticks, newest first."""
        rows = self.tx.rows("ticks_of", schedule=schedule, limit=limit)
        return [self.tx.store.record(Tick, {**row, "job_state": None}) for row in rows]
