"""Schedules: each tick enqueues its job once across `serve` processes (two on one
PostgreSQL database, two on one SQLite file), and a missed tick is fired once at start."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from conftest import CLI, cli_env
from pjobs.app import App
from pjobs.queue import scheduler
from pjobs.settings.config import Settings
from pjobs.store import Store
from pjobs.timeutil import FixedClock

BUILT_IN_OFF = {s.name: {"enabled": False} for s in scheduler.BUILT_IN}
EVERY_TWO_SECONDS = {**BUILT_IN_OFF, "tick": {"cron": "*/2 * * * * *", "job": "noop"}}


def tick_keys(cli: CLI) -> list[str]:
    jobs = json.loads(cli("jobs", "list", "--type", "noop", "--limit", "1000", "--json").stdout)
    return [j["idempotency_key"] for j in jobs["jobs"]]


@pytest.mark.slow
def test_two_serve_processes_enqueue_each_tick_once(tmp_path: Path, backend: str) -> None:
    env = {**cli_env(tmp_path, backend), "PJOBS_SCHEDULING__ENABLED": "true"}
    env["PJOBS_SCHEDULES"] = json.dumps(EVERY_TWO_SECONDS)
    env["PJOBS_SCHEDULING__GRACE_SECONDS"] = "0"
    cli = CLI(env, tmp_path / "logs")
    assert cli("db", "upgrade").returncode == 0
    workers = [cli.popen("serve", "--concurrency", "2") for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while len(tick_keys(cli)) < 6:
            assert time.monotonic() < deadline, [w.output() for w in workers]
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(15)
        for worker in workers:
            assert worker.wait(30) == 0, worker.output()
    keys = tick_keys(cli)
    twice = [key for key, n in Counter(keys).items() if n > 1]
    assert len(keys) >= 6 and twice == [], keys
    assert all(key.startswith("schedule:tick:") for key in keys)
    ticks = sorted(datetime.strptime(k.rsplit(":", 1)[1], "%Y%m%dT%H%M%S") for k in keys)
    assert all((b - a).total_seconds() % 2 == 0 for a, b in pairwise(ticks))
    listed = json.loads(cli("schedules", "list", "--json").stdout)["schedules"]
    tick = next(s for s in listed if s["name"] == "tick")
    assert tick["last_job_id"] is not None and tick["cron"] == "*/2 * * * * *"


def test_a_missed_tick_is_fired_once_and_older_ones_never(
    store: Store, make_settings: object
) -> None:
    daily = {"daily": {"cron": "0 0 * * *", "job": "noop"}}  # its last tick: 12 hours ago
    settings: Settings = make_settings(  # type: ignore[operator]
        schedules={**EVERY_TWO_SECONDS, **daily}, scheduling={"grace_seconds": 30}
    )
    clock = FixedClock(datetime(2026, 11, 29, 12, 0, 1, tzinfo=UTC))
    app = App(settings, store=store, clock=clock)
    timer = scheduler.Scheduler(app, scheduler.checked(settings, app.registry))
    # the first serve on a new database: 12:00:00 is from before the schedules were first
    # seen (12:00:01), and the daily tick too: neither is fired
    assert timer.catch_up() == []
    clock.advance(timedelta(seconds=11))  # five ticks missed while no serve ran
    assert len(timer.catch_up()) == 1  # only the latest, 12:00:12
    assert timer.catch_up() == []  # fired already: not again, by this process or another
    clock.advance(timedelta(seconds=4))
    assert len(timer.catch_up()) == 1  # 12:00:16
    keys = sorted(j.idempotency_key or "" for j in store.list_jobs(type="noop"))
    assert keys == ["schedule:tick:20261129T120012", "schedule:tick:20261129T120016"]
    app.close()


def test_cron_weekdays_are_crontab_ones() -> None:
    sunday_noon = scheduler.trigger(scheduler.Schedule("s", "0 12 * * 0", "noop"))
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # a Monday
    assert scheduler.next_fire(sunday_noon, monday) == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
