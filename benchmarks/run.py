"""Queue figures for pjobs, with procrastinate and huey beside them, in one run.

    python benchmarks/run.py [--jobs 50000] [--peer-jobs 10000]

Needs the `bench` extra (`pip install -e '.[bench]'`) and the PostgreSQL server at
PJOBS_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres); each
system gets a fresh database, dropped afterwards. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from pjobs.app import App
from pjobs.queue.jobqueue import JobQueue
from pjobs.queue.worker import Worker
from pjobs.settings.config import Settings
from pjobs.settings.dburl import database_url
from pjobs.store import open_store
from pjobs.timeutil import SystemClock, utcnow

HERE = Path(__file__).parent
SERVER = os.environ.get("PJOBS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def pg_database() -> Iterator[str]:
    name = f"pjobs_bench_{secrets.token_hex(4)}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(SERVER)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pjobs_queue(url: str, data_dir: Path, **worker: object) -> JobQueue:
    settings = Settings(database_url=url, data_dir=data_dir, worker=worker)
    store = open_store(database_url(settings), pool_size=16, check_schema=False)
    store.upgrade(utcnow())
    return App(settings, store=store, clock=SystemClock()).queue


def pjobs_throughput(url: str, data_dir: Path, jobs: int) -> dict[str, float]:
    queue = pjobs_queue(
        url, data_dir, concurrency=4, prefetch=2000, batch_size=1000, poll_interval=0.05
    )
    started = time.perf_counter()
    queue.enqueue_many([("noop", {})] * jobs)
    enqueued = time.perf_counter()
    worker = Worker(
        queue.store, queue.registry, queue.settings, queue.context_for, queue.clock, burst=True
    )
    worker.run()
    done = time.perf_counter()
    assert queue.stats()["states"] == {"succeeded": jobs}
    queue.store.close()
    return {"enqueue_s": enqueued - started, "total_s": done - started}


def pjobs_latency(url: str, data_dir: Path, samples: int) -> float:
    """Median enqueue->start on an idle `pjobs serve` process (LISTEN/NOTIFY wake-up)."""
    queue = pjobs_queue(url, data_dir)
    env = {**os.environ, "PJOBS_DATABASE_URL": url}
    serve = subprocess.Popen(
        [sys.executable, "-m", "pjobs", "serve", "--concurrency", "2"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)  # let it start and go idle
        ids = []
        for _ in range(samples):
            ids.append(queue.enqueue("noop", {}).id)
            queue.wait(ids[-1], timeout=10)
            time.sleep(0.02)
        lags = []
        for job_id in ids:
            job = queue.get(job_id)
            attempts = queue.store.job_attempts(job_id)
            assert attempts[0].started_at is not None
            lags.append((attempts[0].started_at - job.created_at).total_seconds() * 1000)
        return statistics.median(lags)
    finally:
        serve.terminate()
        serve.wait(10)
        queue.store.close()


def peer(system: str, target: str, jobs: int, concurrency: int) -> dict[str, float] | str:
    result = subprocess.run(
        [sys.executable, str(HERE / "peers.py"), system, target, str(jobs), str(concurrency)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        return f"failed: {result.stderr.strip().splitlines()[-1] if result.stderr else '?'}"
    data: dict[str, float] = json.loads(result.stdout)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--peer-jobs", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=200)
    options = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, jobs: int, result: dict[str, float] | str) -> None:
        if isinstance(result, str):
            rows.append((name, result, "", ""))
            return
        rows.append(
            (
                name,
                f"{jobs / result['total_s']:,.0f} jobs/s",
                f"{jobs / result['enqueue_s']:,.0f} jobs/s",
                f"{jobs} jobs, {result['total_s']:.2f}s",
            )
        )

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        add(
            "pjobs SQLite",
            options.jobs,
            pjobs_throughput(f"sqlite://{data}/pjobs.db", data, options.jobs),
        )
        add(
            "huey SqliteHuey",
            options.peer_jobs,
            peer("huey", str(data / "huey.db"), options.peer_jobs, 1),
        )
        with pg_database() as url:
            add("pjobs PostgreSQL", options.jobs, pjobs_throughput(url, data, options.jobs))
        with pg_database() as url:
            add(
                "procrastinate", options.peer_jobs, peer("procrastinate", url, options.peer_jobs, 4)
            )
        with pg_database() as url:
            latency = pjobs_latency(url, data, options.latency_samples)
    print(f"{'system':<20} {'enqueue->done':>16} {'batch enqueue':>16}   run")
    for name, total, enqueue, note in rows:
        print(f"{name:<20} {total:>16} {enqueue:>16}   {note}")
    print(
        f"\npjobs median enqueue->start on an idle PostgreSQL worker: {latency:.2f} ms "
        f"({options.latency_samples} samples)"
    )


if __name__ == "__main__":
    main()
