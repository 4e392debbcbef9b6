"""The anchors the queue is measured against: a bare claim-and-complete loop on each
store, with no pjobs at all — what the database and its driver allow on this machine.

PostgreSQL: two processes, each claiming batches of 100 (`FOR UPDATE SKIP LOCKED`, a
partial index on queued rows) and completing them in one statement. SQLite: one process,
batches of 100, the same two statements. Rates are jobs a second, from the first claim
to the last completion.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import tempfile
import time
from pathlib import Path

BATCH = 100
PG_SCHEMA = """
CREATE TABLE jobs (
    id bigserial PRIMARY KEY, state text NOT NULL DEFAULT 'queued', payload jsonb NOT NULL,
    attempts int NOT NULL DEFAULT 0, finished_at timestamptz
);
CREATE INDEX jobs_queued ON jobs (id) WHERE state = 'queued';
"""
PG_CLAIM = """
UPDATE jobs SET state = 'running', attempts = attempts + 1
WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT %s
                     FOR UPDATE SKIP LOCKED))
RETURNING id, payload
"""
PG_DONE = "UPDATE jobs SET state = 'succeeded', finished_at = now() WHERE id = ANY(%s)"


def _pg_worker(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            ids = [row[0] for row in conn.execute(PG_CLAIM, (BATCH,)).fetchall()]
            if not ids:
                return
            conn.execute(PG_DONE, (ids,))


def postgresql(jobs: int) -> float:
    import psycopg
    import run  # benchmarks/run.py: a fresh database

    with run.pg_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PG_SCHEMA)
            with conn.cursor().copy("COPY jobs (payload) FROM STDIN") as copy:
                for _ in range(jobs):
                    copy.write_row(("{}",))
            conn.execute("VACUUM ANALYZE jobs")
        started = time.perf_counter()
        workers = [multiprocessing.Process(target=_pg_worker, args=(url,)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return jobs / (time.perf_counter() - started)


def sqlite(jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "bare.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL DEFAULT 'queued', "
            "payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, finished_at TEXT)"
        )
        conn.execute("CREATE INDEX jobs_queued ON jobs (id) WHERE state = 'queued'")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO jobs (payload) VALUES ('{}')", [()] * jobs)
        conn.execute("COMMIT")
        started = time.perf_counter()
        while True:
            conn.execute("BEGIN IMMEDIATE")
            ids = [
                row[0]
                for row in conn.execute(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1 WHERE id IN "
                    "(SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT ?) "
                    "RETURNING id, payload",
                    (BATCH,),
                )
            ]
            conn.execute("COMMIT")
            if not ids:
                break
            marks = ",".join("?" * len(ids))
            conn.execute(
                f"UPDATE jobs SET state = 'succeeded', finished_at = datetime('now') "
                f"WHERE id IN ({marks})",
                ids,
            )
        rate = jobs / (time.perf_counter() - started)
        conn.close()
        return rate
