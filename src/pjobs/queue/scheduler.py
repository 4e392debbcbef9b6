"""Schedules: cron expressions that enqueue a job at each tick, fired by APScheduler inside
`pjobs serve`. Each tick enqueues its job exactly once across every `serve` process, also
when another process's job of that tick has already finished: the first process to insert
the tick's row (`schedule_ticks`) enqueues, on the same transaction. A tick missed while no
`serve` ran is fired once at start if it is within `scheduling.grace_seconds`; older ones
are not replayed.

Expressions are crontab's five fields in UTC (minute hour day month weekday, 0 or 7 is
Sunday), or six with seconds first."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pjobs.errors import ConfigError, PjobsError

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    from pjobs.app import App
    from pjobs.control.schedules import Tick
    from pjobs.queue.jobtypes import Registry
    from pjobs.settings.config import Settings

log = logging.getLogger("pjobs.scheduler")
NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far back a firing looks for the tick it stands for (it fires a moment after it).
TICK_LOOKBACK = timedelta(minutes=1)


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    job: str
    payload: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True

    @property
    def actor(self) -> str:
        return f"schedule:{self.name}"


BUILT_IN = (
    Schedule("check-limits", "0 * * * *", "check_usage_limits", {"all": True}),
    Schedule("scan-abuse", "*/5 * * * *", "scan_abuse", {"all": True}),
    Schedule("expire-keys", "* * * * *", "expire_keys"),
    Schedule("notifications", "* * * * *", "send_notifications"),
    Schedule("queue-maintenance", "*/10 * * * *", "queue_maintenance"),
    # off until the configuration turns it on: backups take room where they are kept
    Schedule("backups", "0 3 * * *", "export_backup", {"all": True}, enabled=False),
)


def effective(settings: Settings) -> list[Schedule]:
    """The built-in schedules with the configuration's changes, and its own schedules."""
    found = {s.name: s for s in BUILT_IN}
    for name, given in settings.schedules.items():
        if not NAME.fullmatch(name):
            raise ConfigError(f"invalid schedule name {name!r}: expected {NAME.pattern}")
        base = found.get(name)
        cron = given.cron or (base.cron if base else None)
        job = given.job or (base.job if base else None)
        if cron is None or job is None:
            raise ConfigError(f"schedule {name!r} needs a cron expression and a job type")
        payload = given.payload if given.payload is not None else (base.payload if base else {})
        enabled = given.enabled if given.enabled is not None else (base.enabled if base else True)
        found[name] = Schedule(name, cron, job, payload, enabled)
    return sorted(found.values(), key=lambda s: s.name)


def trigger(schedule: Schedule) -> CronTrigger:
    """The APScheduler trigger of a schedule; ConfigError (78) naming a bad expression."""
    from apscheduler.triggers.cron import CronTrigger

    fields = schedule.cron.split()
    if len(fields) == 5:
        fields.insert(0, "0")
    if len(fields) != 6:
        raise ConfigError(
            f"schedule {schedule.name!r}: invalid cron {schedule.cron!r}: expected 5 fields "
            "(minute hour day month weekday) or 6 (seconds first)"
        )
    second, minute, hour, day, month, weekday = fields
    # crontab's weekday numbers (0 and 7 are Sunday) as names APScheduler 3 reads alike
    weekday = re.sub(r"\d+", lambda m: WEEKDAYS[int(m.group()) % 8], weekday)
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=weekday,
            timezone=UTC,
        )
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"schedule {schedule.name!r}: invalid cron {schedule.cron!r}: {exc}"
        ) from None


def checked(settings: Settings, registry: Registry) -> list[tuple[Schedule, CronTrigger]]:
    """The enabled schedules with their triggers, each checked now (expression, job type,
    payload), so a mistake stops `serve` at start with one line (78)."""
    from pjobs.queue.enqueue import EnqueueOptions, prepare_jobs

    result = []
    for schedule in effective(settings):
        if not schedule.enabled:
            continue
        cron = trigger(schedule)
        try:
            prepare_jobs(
                registry,
                settings,
                [(schedule.job, schedule.payload)],
                EnqueueOptions(),
                datetime.now(UTC),
            )
        except PjobsError as exc:
            raise ConfigError(f"schedule {schedule.name!r}: {exc}") from None
        result.append((schedule, cron))
    return result


def last_fire(cron: CronTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time of `cron` in (now - lookback, now]."""
    fire = cron.get_next_fire_time(None, now - lookback)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = cron.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


def next_fire(cron: CronTrigger, now: datetime) -> datetime | None:
    fire: datetime | None = cron.get_next_fire_time(None, now)
    return fire


def listing(settings: Settings, ticks: dict[str, Tick], now: datetime) -> list[dict[str, Any]]:
    """Each schedule as `schedules list` and the dashboard show it: expression, job, on or
    off, next run, last tick and its job (`ticks`: `tx.schedules.last_ticks()`)."""
    rows = []
    for schedule in effective(settings):
        tick = ticks.get(schedule.name)
        rows.append(
            {
                "name": schedule.name,
                "cron": schedule.cron,
                "job": schedule.job,
                "payload": schedule.payload,
                "enabled": schedule.enabled,
                "next_run": next_fire(trigger(schedule), now) if schedule.enabled else None,
                "last_tick": tick.fire_at if tick else None,
                "last_job_id": tick.job_id if tick else None,
                "last_job_state": tick.job_state if tick else None,
            }
        )
    return rows


class Scheduler:
    """The schedules of one `serve` process."""

    def __init__(self, app: App, schedules: list[tuple[Schedule, CronTrigger]]) -> None:
        self.app, self.schedules = app, schedules
        self._background: BackgroundScheduler | None = None
        self.fired = 0

    def fire(self, schedule: Schedule, at: datetime, asked_by: str | None = None) -> int | None:
        """Enqueue the schedule's job for the tick at `at`, unless a process already did;
        the job's id, or None. A person's run (`asked_by`) is theirs and audited."""
        from pjobs.control import ControlPlane
        from pjobs.queue.enqueue import EnqueueOptions, enqueue_on

        app = self.app
        key = f"schedule:{schedule.name}:{at:%Y%m%dT%H%M%S}"
        options = EnqueueOptions(idempotency_key=key, requested_by=asked_by or schedule.actor)
        with ControlPlane(app.store).tx(app.clock.now()) as tx:
            if not tx.schedules.fire_tick(schedule.name, at):
                return None
            items = [(schedule.job, schedule.payload)]
            (job,) = enqueue_on(tx, app.registry, app.settings, items, options)
            tx.schedules.tick_job(schedule.name, at, job.id)
            if asked_by is not None:
                tx.audit.append(asked_by, "schedule.run", None, f"schedule:{schedule.name}")
        self.fired += 1
        log.info("schedule %s: tick %s enqueued job %d", schedule.name, at.isoformat(), job.id)
        return job.id

    def catch_up(self) -> list[int]:
        """Fire, once, each schedule's latest tick missed within the grace; a tick from
        before the schedule was first seen (on a new database: before it existed) is
        skipped, and said so."""
        from pjobs.control import ControlPlane

        app = self.app
        grace = timedelta(seconds=app.settings.scheduling.grace_seconds)
        now = app.clock.now()
        with ControlPlane(app.store).tx(now) as tx:
            seen = {
                schedule.name: tx.schedules.first_seen(schedule.name)
                for schedule, _ in self.schedules
            }
        jobs = []
        for schedule, cron in self.schedules:
            missed = last_fire(cron, now, grace) if grace else None
            if missed is not None and missed < seen[schedule.name]:
                log.info(
                    "schedule %s: tick %s is from before the schedule was first seen "
                    "(%s): skipped", schedule.name, missed.isoformat(),
                    seen[schedule.name].isoformat(),
                )  # fmt: skip
                continue
            if missed is not None and (job := self.fire(schedule, missed)) is not None:
                jobs.append(job)
        return jobs

    def _tick(self, schedule: Schedule, cron: CronTrigger) -> None:
        try:
            at = last_fire(cron, self.app.clock.now(), TICK_LOOKBACK)
            if at is not None:
                self.fire(schedule, at)
        except Exception as exc:  # a schedule's error must not stop the others, nor serve
            log.warning("schedule %s: %s: %s", schedule.name, type(exc).__name__, exc)

    def start(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        background = BackgroundScheduler(timezone=UTC, daemon=True)
        for schedule, cron in self.schedules:
            background.add_job(
                self._tick,
                cron,
                args=[schedule, cron],
                id=schedule.name,
                name=schedule.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=60,
            )
        background.start()
        self._background = background

    def stop(self) -> None:
        if self._background is not None:
            self._background.shutdown(wait=False)
            self._background = None
