"""The embedded store: one SQLite file in WAL mode, a connection per thread."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from pjobs.errors import ConfigError, DatabaseConflict, DatabaseReadOnly, DatabaseUnavailable
from pjobs.settings.secretfile import warn_if_open
from pjobs.store import sqlite_functions
from pjobs.store.base import SqlStore, Topic
from pjobs.store.errors import sqlite_error
from pjobs.store.files import (
    begin_immediate,
    create_private_file,
    mark_made,
    use_wal,
    used_before,
)
from pjobs.store.outcomes import outcomes_json
from pjobs.store.queries import Migration
from pjobs.store.records import Claim, ClaimedJob, EnqueueResult, NewJob, Outcome
from pjobs.store.staging import StagedRecords

BUSY_TIMEOUT_SECONDS = 10.0
# Page cache per connection: bulk writes (imports, batches) touch many pages of big indexes.
CACHE_KIB = 65_536


class SQLiteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: str, create: bool | None = None) -> None:
        """Open the database at `path`. A missing file is created when `create`, or (None)
        when nothing says one was there: no journal files beside it, no pjobs data."""
        super().__init__()
        self.path = Path(path)
        self.display_name = str(self.path)
        if self.path.exists() and not self.path.is_file():
            raise ConfigError(f"SQLite database {self.path} is not a regular file")
        if not self.path.exists():
            seen = used_before(self.path)
            if not (create if create is not None else not seen):
                why = "though pjobs data is beside it (deleted or moved?)" if seen else "yet"
                raise DatabaseUnavailable(
                    f"SQLite database {self.path} does not exist {why}: restore it, or make "
                    "a new one with `pjobs db upgrade`"
                )
        try:
            create_private_file(self.path)
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot create SQLite database {self.path}: {exc}") from None
        mark_made(self.path)
        warn_if_open(self.path, "the SQLite database")
        warn_if_open(self.path.parent, "the folder of the SQLite database")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writing = threading.RLock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._file_id() != self._local.file:
            self._forget_connection()  # deleted, or replaced (a copy put back): open it again
            conn = None
        if conn is None:
            file = self._file_id()
            if file is None:
                raise DatabaseUnavailable(
                    f"SQLite database {self.path} is gone (deleted or moved?): restore it, or "
                    "make a new one with `pjobs db upgrade`"
                )
            try:
                conn = sqlite3.connect(
                    self.path.absolute().as_uri() + "?mode=rw",  # never makes a missing file
                    uri=True,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,
                )
                use_wal(conn, BUSY_TIMEOUT_SECONDS)
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
                conn.execute("PRAGMA foreign_keys = ON")
                sqlite_functions.register(conn)
            except sqlite3.Error as exc:
                raise sqlite_error(exc, str(self.path)) or DatabaseUnavailable(
                    f"cannot open SQLite database {self.path}: {exc}"
                ) from None
            self._local.conn, self._local.file = conn, file
            with self._lock:
                self._connections.append(conn)
        return conn

    def _file_id(self) -> tuple[int, int] | None:
        """The database file's device and inode (None: it is gone)."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        return found.st_dev, found.st_ino

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Cursor]:
        # One writer at a time in this process, queued here; a writer of another process is
        # waited for by `begin_immediate`. A writer waits as long as the busy timeout.
        if write and not self._writing.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise DatabaseConflict(
                f"SQLite database {self.path}: another writer in this process held it for "
                f"{BUSY_TIMEOUT_SECONDS:g} s; try again"
            )
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connection()
            if not write:  # as on PostgreSQL: each statement reads the latest committed data
                yield conn.cursor()
                return
            begin_immediate(conn, BUSY_TIMEOUT_SECONDS)
            yield conn.cursor()
            conn.execute("COMMIT")
        except BaseException as exc:
            # After a failed COMMIT SQLite may have rolled back already: a second error
            # from ROLLBACK must not hide the first.
            if conn is not None and conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.Error):
                translated = sqlite_error(exc, str(self.path))
                if isinstance(translated, DatabaseReadOnly | DatabaseUnavailable):
                    self._forget_connection()
                if translated is not None:
                    raise translated from None
            raise
        finally:
            if write:
                self._writing.release()

    def _forget_connection(self) -> None:
        """Close this thread's connection; the next transaction opens a new one. A
        connection opened while the file could not be written stays read-only for good
        (SQLite falls back to reading), and one that saw I/O errors may keep a stale view:
        after such a fault, a new connection is what sees the file as it is now."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        try:
            conn.close()
        except sqlite3.Error:
            pass

    def ts(self, value: datetime | None) -> str | None:
        """A time as stored: its text (`iso`)."""
        return None if value is None else self.iso(value)

    def day(self, value: date) -> str:
        return value.isoformat()

    def stage_usage(self, cursor: sqlite3.Cursor, records: StagedRecords | None) -> None:
        if records is None:
            self._run_script(cursor, self.queries["stage_usage"])
        else:
            cursor.execute(self.queries["stage_usage_records"], {"records": records})

    def from_json(self, value: Any) -> Any:
        return None if value is None else json.loads(value)

    def array(self, values: Sequence[str] | None) -> str | None:
        return None if values is None else json.dumps(list(values))

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def apply_migration(self, cursor: sqlite3.Cursor, migration: Migration) -> None:
        self._run_script(cursor, migration.sql)

    @staticmethod
    def _run_script(cursor: sqlite3.Cursor, sql: str) -> None:
        """Statements one by one on the open transaction (`executescript` would commit)."""
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                cursor.execute(statement)
                statement = ""
        if statement.strip():
            cursor.execute(statement)

    # -- the operations whose mechanics are SQLite's own ----------------------------------

    def enqueue_on(
        self, cursor: sqlite3.Cursor, jobs: Sequence[NewJob], now: datetime
    ) -> list[EnqueueResult]:
        if not jobs:
            return []
        q, ts, now_text = self.queries, self.ts, self.ts(now)
        cursor.execute(q["last_job_id"])
        first = int(cursor.fetchone()[0]) + 1
        times: dict[datetime | None, str | None] = {None: None}

        def text(value: datetime | None) -> str | None:
            # A batch shares its run_at: format each distinct time once.
            if value not in times:
                times[value] = ts(value)
            return times[value]

        ids = range(first, first + len(jobs))
        asker, limit = jobs[0].requested_by, jobs[0].time_limit
        if all(j.plain and j.requested_by == asker and j.time_limit == limit for j in jobs):
            rows: list[tuple[Any, ...]] = [
                (
                    job.type,
                    job.queue,
                    job.payload,
                    job.priority,
                    job.max_attempts,
                    text(job.run_at),
                )
                for job in jobs
            ]
            # orjson: 2 ms for 50,000 rows, json.dumps 35 ms. Their texts are valid UTF-8
            # (names checked, payloads pydantic's JSON, times ours): nothing it refuses.
            cursor.execute(
                q["insert_queued_jobs"],
                {
                    "first": first,
                    "now": now_text,
                    "rows": orjson.dumps(rows).decode(),
                    "requested_by": asker,
                    "time_limit": limit,
                },
            )
            return [EnqueueResult(job_id, True) for job_id in ids]
        rows = [
            (
                job.type,
                job.queue,
                job.payload,
                job.priority,
                "queued" if job.worker_id is None else "running",
                0 if job.worker_id is None else 1,
                job.max_attempts,
                text(job.run_at),
                None if job.worker_id is None else now_text,
                job.worker_id,
                text(job.lease_expires_at),
                job.idempotency_key,
                job.requested_by,
                job.time_limit,
            )
            for job in jobs
        ]
        cursor.execute(
            q["insert_jobs"], {"first": first, "now": now_text, "rows": json.dumps(rows)}
        )
        if cursor.rowcount == len(jobs):
            return [EnqueueResult(job_id, True) for job_id in ids]
        cursor.execute(q["inserted_job_ids"], {"first": first, "last": ids[-1]})
        inserted = {row[0] for row in cursor.fetchall()}
        keys = [job.idempotency_key for job in jobs if job.idempotency_key]
        cursor.execute(q["active_jobs_by_key"], {"keys": json.dumps(keys)})
        by_key = dict(cursor.fetchall())
        return [
            EnqueueResult(job_id, True)
            if job_id in inserted
            else EnqueueResult(by_key[job.idempotency_key], False)
            for job_id, job in zip(ids, jobs, strict=True)
        ]

    def packed_rows(self, cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
        """The rows packed into one by the query (a JSON array of {column: value}, its one
        column), for the same reason as the claim's (`claim_on`): 1,000 deliveries read
        for a worker's claim took 15 s beside a thread that computes, a row at a time."""
        (packed,) = cursor.fetchone()
        rows: list[dict[str, Any]] = orjson.loads(packed)
        return rows

    def claim_on(self, cursor: sqlite3.Cursor, worker_id: str, claim: Claim) -> list[ClaimedJob]:
        """`claim`, on an open transaction. The jobs come as one row (`due_jobs`): the
        sqlite3 module lets go of the interpreter's lock at each row it reads, and each
        time a thread that computes in Python (a handler) may keep it until its switch
        interval is up. A row a job made a worker's turn ten times slower beside such a
        handler."""
        params = self.claim_params(worker_id, claim)
        cursor.execute(self.queries["due_jobs"], params)
        due, params["ids"] = cursor.fetchone()
        cursor.execute(self.queries["claim_jobs"], params)
        return self.claimed_jobs(orjson.loads(due), claim.now)

    def acknowledge_on(
        self, cursor: sqlite3.Cursor, worker_id: str, outcomes: Sequence[Outcome]
    ) -> set[int]:
        """Record the outcomes; returns the ids of the jobs this worker still held. Not
        by RETURNING, a row a job (see `claim_on`): when acknowledge_jobs changes a row an
        outcome, all were held (one outcome changes one row at most); else the statement
        is undone, the held ones are read, and it runs again."""
        q = self.queries
        params = {"worker_id": worker_id, "outcomes": outcomes_json(self, outcomes)}
        cursor.execute(q["savepoint_outcome"])
        changes = cursor.connection.total_changes
        cursor.execute(q["acknowledge_jobs"], params)
        if cursor.connection.total_changes - changes == len(outcomes):
            acknowledged = {outcome.job_id for outcome in outcomes}
        else:
            cursor.execute(q["rollback_to_outcome"])
            cursor.execute(q["acknowledged_jobs"], params)
            acknowledged = set(orjson.loads(cursor.fetchone()[0]))
            cursor.execute(q["acknowledge_jobs"], params)
        cursor.execute(q["release_outcome"])
        # a batch of successes has no attempts rows: not even a search for them
        if acknowledged and any(outcome.has_attempt_row for outcome in outcomes):
            params["acknowledged"] = json.dumps(list(acknowledged))
            cursor.execute(self.queries["insert_acknowledged_attempts"], params)
        return acknowledged

    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        with self.transaction() as cursor:
            cursor.executemany(
                self.queries["release_job"],
                [{"id": job_id, "worker_id": worker_id} for job_id in job_ids],
            )
            return int(cursor.rowcount)

    def _rescue(self, params: dict[str, Any]) -> int:
        q, now_text = self.queries, params["now"]
        with self.transaction() as cursor:
            cursor.execute(q["expired_jobs"], params)
            expired = cursor.fetchall()
            lost = []
            for job_id, worker_id, attempt, started_at, exhausted in expired:
                error = f"worker {worker_id} lost its lease (crashed or stalled)"
                cursor.execute(
                    q["rescue_job"],
                    {"id": job_id, "now": now_text, "exhausted": exhausted, "error": error},
                )
                lost.append((job_id, attempt, worker_id, "lost", started_at, now_text, error, None))
            if lost:
                cursor.execute(q["insert_attempts"], {"attempts": json.dumps(lost)})
        return len(expired)

    def refresh_statistics(self) -> None:
        """Nothing: SQLite plans the queue's statements by their indexes alone (pjobs never
        runs ANALYZE on it)."""

    def record_job_types(self, types: Sequence[tuple[str, str, int]], now: datetime) -> None:
        """Nothing: only PostgreSQL has `pjobs_enqueue` (SQLite has no other clients)."""

    def reclaim_finished(self) -> None:
        """Nothing: SQLite updates its rows in place, and leaves no dead ones behind."""

    def wait_for(self, topic: Topic, timeout: float, stop: threading.Event) -> None:
        stop.wait(timeout)
