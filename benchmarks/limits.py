"""Quota and abuse figures: `check-limits --all` and `scan-abuse --all` over 100,000
projects with a month of usage, and `usage import` of 1,000,000 JSON lines, on SQLite and
PostgreSQL.

    python benchmarks/limits.py [--projects 100000] [--lines 1000000]

Uses the PostgreSQL server at PJOBS_BENCH_POSTGRES_URL (default: the local one); every
database is made for the run and dropped after. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from run import pg_database

from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.settings.config import Settings
from pjobs.store.postgres import PostgresStore
from pjobs.timeutil import FixedClock

NOW = datetime(2026, 11, 29, 12, 0, 30, tzinfo=UTC)
DAYS = 29  # the month so far
WINDOW_MINUTES = 10


def rows(projects: int) -> dict[str, Iterator[tuple[Any, ...]]]:
    """A month of usage, in the tables' column order: totals, a row a day, the last
    minutes; ~5 % of projects near a quota, ~1 % with an error spike, ~1 % far above
    their baseline."""
    rng = random.Random(7)
    ids = [f"proj-{n:06d}" for n in range(projects)]
    period, today = "2026-11", NOW.date()

    def totals() -> Iterator[tuple[Any, ...]]:
        for pid in ids:
            near = rng.random() < 0.05
            share = rng.uniform(0.8, 1.05) if near else rng.uniform(0, 0.7)
            yield (pid, "requests", period, share * 1_000_000, NOW)
            yield (pid, "bandwidth_bytes", period, rng.uniform(0, 0.7) * 5e9, NOW)
            yield (pid, "storage_bytes", period, rng.uniform(0, 0.7) * 1e9, NOW)
            yield (pid, "db_size_bytes", period, rng.uniform(0, 0.7) * 5e8, NOW)

    # Per-day and per-minute counts in time order, as a month of imports writes them.
    def days() -> Iterator[tuple[Any, ...]]:
        for back in range(DAYS, 0, -1):
            for pid in ids:
                yield (pid, today - timedelta(days=back), 1440.0 * 20, 1440.0)

    def minutes() -> Iterator[tuple[Any, ...]]:
        start = NOW.replace(second=0) - timedelta(minutes=WINDOW_MINUTES - 1)
        rates = []
        for pid in ids:
            roll = rng.random()
            rate = 400.0 if roll < 0.01 else 20.0
            rates.append((pid, rate, rate * 0.7 if 0.01 <= roll < 0.02 else rate * 0.01))
        for m in range(WINDOW_MINUTES):
            for pid, rate, errors in rates:
                yield (pid, start + timedelta(minutes=m), rate, errors)

    return {"projects": ((pid,) for pid in ids), "totals": totals(), "days": days(),
            "minutes": minutes()}  # fmt: skip


INSERTS = {
    "projects": (
        "INSERT INTO projects (id, name, owner_id, region, plan, status, created_at, updated_at)"
        " VALUES ({p}, {p}, 'owner-1', 'eu', 'free', 'active', {now}, {now})"
    ),
    "totals": "INSERT INTO usage_totals VALUES ({p}, {p}, {p}, {p}, {p})",
    "days": "INSERT INTO usage_days VALUES ({p}, {p}, {p}, {p})",
    "minutes": "INSERT INTO usage_minutes VALUES ({p}, {p}, {p}, {p})",
}
TABLES = {"totals": "usage_totals", "days": "usage_days", "minutes": "usage_minutes"}


def load(app: App, projects: int) -> None:
    store = app.store
    with ControlPlane(store).tx(NOW) as tx:
        tx.owners.ensure("owner-1")
    data = rows(projects)
    with store.transaction() as cursor:
        for name, source in data.items():
            if isinstance(store, PostgresStore) and name != "projects":
                with cursor.copy(f"COPY {TABLES[name]} FROM STDIN") as copy:
                    for row in source:
                        copy.write_row(row)
                continue
            p = "%s" if isinstance(store, PostgresStore) else "?"
            sql = INSERTS[name].format(p=p, now=p if name == "projects" else "")
            convert = (lambda r: (*r, *r, NOW, NOW)) if name == "projects" else (lambda r: r)
            cursor.executemany(
                sql, (tuple(store_value(store, v) for v in convert(r)) for r in source)
            )
        if isinstance(store, PostgresStore):
            cursor.execute("ANALYZE")


def store_value(store: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        return store.ts(value)
    if isinstance(value, date):
        return store.day(value)
    return value


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure(name: str, url: str, data_dir: Path, projects: int, lines: Path) -> list[str]:
    settings = Settings(database_url=url, data_dir=data_dir)
    app = App(settings, clock=FixedClock(NOW), check_schema=False)
    app.store.upgrade(NOW)
    print(f"{name}: loading {projects:,} projects and a month of usage...", file=sys.stderr)
    loaded, _ = timed(lambda: load(app, projects))
    out = [f"{name}: loaded in {loaded:.1f}s"]
    queue = app.queue

    def check(dry: bool) -> Any:
        payload = {"all": True, "enforce": not dry}
        job = queue.run_inline("check_usage_limits", payload)
        assert job.state == "succeeded", job.last_error
        return job.result

    for label, dry in (("check-limits --all (record only)", True), ("check-limits --all", False)):
        seconds, result = timed(lambda dry=dry: check(dry))
        out.append(
            f"  {label:<38} {seconds:6.2f}s  checked {result['checked']:,}, "
            f"over {result['over_threshold']:,}, warned {result['warned']:,}, "
            f"suspended {result['suspended']:,}"
        )
    seconds, result = timed(lambda: check(False))
    label = "check-limits --all (again: no news)"
    out.append(f"  {label:<38} {seconds:6.2f}s  warned {result['warned']:,}")

    def scan(dry: bool) -> Any:
        job = queue.run_inline("scan_abuse", {"all": True, "enforce": not dry})
        assert job.state == "succeeded", job.last_error
        return job.result

    seconds, result = timed(lambda: scan(True))
    out.append(
        f"  {'scan-abuse --all (baselines computed)':<38} {seconds:6.2f}s  "
        f"active with requests {result['checked']:,}, findings {len(result['findings']):,}"
    )
    seconds, result = timed(lambda: scan(True))
    out.append(f"  {'scan-abuse --all (baselines cached)':<38} {seconds:6.2f}s")
    app.close()

    env = {**os.environ, "PJOBS_DATABASE_URL": url}
    seconds, done = timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "pjobs", "usage", "import", str(lines), "--json"],
            env=env, capture_output=True, text=True, check=False,
        )
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    count = json.loads(done.stdout)["lines"]
    out.append(
        f"  {'usage import (CLI, whole command)':<38} {seconds:6.2f}s  "
        f"{count:,} lines, {count / seconds:,.0f} lines/s"
    )
    return out


def write_lines(path: Path, count: int, projects: int) -> None:
    rng = random.Random(3)
    metrics = ("requests", "errors", "bandwidth_bytes", "storage_bytes")
    with path.open("w") as handle:
        for n in range(count):
            at = NOW - timedelta(seconds=rng.randrange(86_400))
            handle.write(
                json.dumps(
                    {"project": f"proj-{rng.randrange(projects):06d}", "metric": metrics[n % 4],
                     "value": rng.randrange(1, 1000), "time": at.isoformat()}
                ) + "\n"
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    options = parser.parse_args()
    report: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        lines = data / "usage.jsonl"
        write_lines(lines, options.lines, options.projects)
        report += measure("SQLite", f"sqlite://{data}/pjobs.db", data, options.projects, lines)
        with pg_database() as url:
            report += measure("PostgreSQL", url, data, options.projects, lines)
    print("\n".join(report))


if __name__ == "__main__":
    main()
