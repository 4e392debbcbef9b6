"""The ticks of the schedules: each fired once across every `serve` process (the first to
record it enqueues its job), with the job it made."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from pjobs.control.noun import Noun


@dataclass(frozen=True)
class Tick:
    schedule: str
    fire_at: datetime
    job_id: int | None
    job_state: str | None


class ScheduleTicks(Noun):
    def first_seen(self, schedule: str) -> datetime:
        """When a serve first saw the schedule (now, if this is the first time)."""
        self.tx.run("see_schedule", schedule=schedule)
        row = self.tx.row("schedule_first_seen", schedule=schedule)
        assert row is not None
        return self.tx.store.from_ts(row["first_seen"])

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
