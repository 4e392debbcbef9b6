"""The production store: PostgreSQL through psycopg 3 and a connection pool.

Claims use `FOR UPDATE SKIP LOCKED`, so any number of workers on any number of machines
share one queue; enqueues `NOTIFY pjobs_jobs` and idle workers `LISTEN`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from pjobs.errors import DatabaseUnavailable, PjobsError
from pjobs.store.base import SqlStore, Topic, iter_chunks
from pjobs.store.errors import first_line, postgres_error
from pjobs.store.outcomes import acknowledge_outcomes, outcome_row
from pjobs.store.queries import Migration
from pjobs.store.records import Claim, ClaimedJob, EnqueueResult, NewJob, Outcome
from pjobs.store.staging import StagedRecords

log = logging.getLogger("pjobs.store")
CONNECT_TIMEOUT_SECONDS = 5
INSERT_CHUNK = 20_000
# A pooled connection unused for longer is checked before it is handed out.
IDLE_CHECK_SECONDS = 2.0
# Wake-up waits are cut into slices so a stop request is seen promptly.
WAIT_SLICE_SECONDS = 0.5


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def __init__(self, url: str, display_url: str, pool_size: int = 4) -> None:
        super().__init__()
        self._url = url
        self._display_url = display_url
        self.display_name = display_url
        self._connect_kwargs: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": "-c TimeZone=UTC",
        }
        # One direct connection first: an unreachable server is one clear error, not a
        # pool retrying in the background.
        try:
            psycopg.connect(url, **self._connect_kwargs).close()
        except psycopg.Error as exc:
            raise self.translate(exc) from None
        # A connection idle for a while is checked as it leaves the pool, so a backend
        # terminated meanwhile costs one reconnect, not a failed statement and a poll
        # interval; one in constant use is not (a round trip per transaction).
        self._last_used: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(pool_size, 1),
            kwargs=self._connect_kwargs,
            check=self._check_if_idle,
            open=True,
            name="pjobs",
        )
        self._listeners: dict[Topic, psycopg.Connection[Any]] = {}
        # Records a worker's outcomes while its claim runs (`acknowledge_and_claim`).
        self._recorder: ThreadPoolExecutor | None = None

    def translate(self, exc: psycopg.Error) -> PjobsError:
        """The pjobs error of this kind (unavailable when the kind is not known)."""
        return postgres_error(exc, self._display_url) or DatabaseUnavailable(
            f"PostgreSQL at {self._display_url} is unavailable: {first_line(exc)}"
        )

    def _check_if_idle(self, conn: psycopg.Connection[Any]) -> None:
        last = self._last_used.get(conn)
        if last is None or time.monotonic() - last > IDLE_CHECK_SECONDS:
            ConnectionPool.check_connection(conn)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[psycopg.Cursor[Any]]:
        """A write transaction (BEGIN … COMMIT); a read is run in autocommit instead, each
        statement reading the latest committed data, without the two extra round trips."""
        try:
            with self._pool.connection() as conn:
                conn.autocommit = not write
                try:
                    with conn.cursor() as cursor:
                        yield cursor
                finally:
                    if not write:
                        conn.autocommit = False
                self._last_used[conn] = time.monotonic()
        except psycopg.Error as exc:
            translated = postgres_error(exc, self._display_url)
            if translated is None:
                raise
            raise translated from None

    def answers(self, timeout: float) -> bool:
        """A connection from the pool within `timeout` (not the pool's 30 s), then a query."""
        try:
            with self._pool.connection(timeout=timeout) as conn:
                conn.execute(self.queries["count_jobs_quickly"])
        except Exception:  # unavailable, the pool's timeout, a connection cut: no answer
            return False
        return True

    def ts(self, value: datetime | None) -> datetime | None:
        return value

    def stage_usage(self, cursor: psycopg.Cursor[Any], records: StagedRecords | None) -> None:
        if records is None:
            cursor.execute(self.queries["stage_usage"])
            return
        with cursor.copy("COPY stage_usage_records FROM STDIN") as copy:
            copy.write(records)

    def array(self, values: Sequence[str] | None) -> list[str] | None:
        return None if values is None else list(values)

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.shutdown()
            self._recorder = None
        for listener in self._listeners.values():
            listener.close()
        self._listeners.clear()
        self._pool.close()

    def apply_migration(self, cursor: psycopg.Cursor[Any], migration: Migration) -> None:
        cursor.execute(migration.sql.encode())

    # -- the operations whose mechanics are PostgreSQL's own ------------------------------

    def enqueue(self, jobs: Sequence[NewJob], now: datetime) -> list[EnqueueResult]:
        """`SqlStore.enqueue`; one plain queued job is one statement in autocommit (one
        round trip: the latency from enqueue to start is mostly round trips)."""
        if len(jobs) != 1 or not jobs[0].plain:
            return super().enqueue(jobs, now)
        job = jobs[0]
        params = {
            "type": job.type,
            "queue": job.queue,
            "payload": job.payload,
            "priority": job.priority,
            "max_attempts": job.max_attempts,
            "run_at": job.run_at,
            "now": now,
            "requested_by": job.requested_by,
            "time_limit": job.time_limit,
        }
        # autocommit (the store's read mode): one statement is a transaction of its own
        with self.transaction(write=False) as cursor:
            cursor.execute(self.queries["insert_queued_job"], params)
            ((job_id,),) = cursor.fetchall()
        return [EnqueueResult(job_id, True)]

    def enqueue_on(
        self, cursor: psycopg.Cursor[Any], jobs: Sequence[NewJob], now: datetime
    ) -> list[EnqueueResult]:
        if not jobs:
            return []
        results: list[EnqueueResult] = []
        for chunk in iter_chunks(jobs, INSERT_CHUNK):
            cursor.execute(self.queries["reserve_job_ids"], {"count": len(chunk)})
            ids = [row[0] for row in cursor.fetchall()]
            if all(job.plain for job in chunk):
                self._copy_in(cursor, ids, chunk, now)
                results.extend(EnqueueResult(job_id, True) for job_id in ids)
            else:
                results.extend(self._insert_keyed(cursor, ids, chunk, now))
        cursor.execute(self.queries["notify_jobs"])  # delivered when the caller commits
        return results

    def _copy_in(
        self, cursor: psycopg.Cursor[Any], ids: list[int], jobs: Sequence[NewJob], now: datetime
    ) -> None:
        """The bulk path: COPY, for queued jobs with no idempotency key to check."""
        with cursor.copy(self.queries["copy_jobs"]) as copy:
            write = copy.write_row
            for job_id, job in zip(ids, jobs, strict=True):
                write(
                    (
                        job_id,
                        job.type,
                        job.queue,
                        job.payload,
                        job.priority,
                        "queued",
                        job.max_attempts,
                        job.run_at,
                        now,
                        job.requested_by,
                        job.time_limit,
                    )
                )

    def _insert_keyed(
        self, cursor: psycopg.Cursor[Any], ids: list[int], jobs: Sequence[NewJob], now: datetime
    ) -> list[EnqueueResult]:
        """INSERT … ON CONFLICT DO NOTHING; a key already active yields that job."""
        claimed = [job.worker_id is not None for job in jobs]
        cursor.execute(
            self.queries["insert_jobs"],
            {
                "now": now,
                "ids": ids,
                "types": [job.type for job in jobs],
                "queues": [job.queue for job in jobs],
                "payloads": [job.payload for job in jobs],
                "priorities": [job.priority for job in jobs],
                "states": ["running" if c else "queued" for c in claimed],
                "attempts": [1 if c else 0 for c in claimed],
                "max_attempts": [job.max_attempts for job in jobs],
                "run_ats": [job.run_at for job in jobs],
                "started_ats": [now if c else None for c in claimed],
                "worker_ids": [job.worker_id for job in jobs],
                "leases": [job.lease_expires_at for job in jobs],
                "keys": [job.idempotency_key for job in jobs],
                "requested_bys": [job.requested_by for job in jobs],
                "time_limits": [job.time_limit for job in jobs],
            },
        )
        inserted = {row[0] for row in cursor.fetchall()}
        by_key: dict[str, int] = {}
        if len(inserted) < len(jobs):
            keys = [job.idempotency_key for job in jobs if job.idempotency_key]
            cursor.execute(self.queries["active_jobs_by_key"], {"keys": keys})
            by_key = dict(cursor.fetchall())
        return [
            EnqueueResult(job_id, True)
            if job_id in inserted
            else EnqueueResult(by_key[job.idempotency_key or ""], False)
            for job_id, job in zip(ids, jobs, strict=True)
        ]

    def acknowledge_on(
        self, cursor: psycopg.Cursor[Any], worker_id: str, outcomes: Sequence[Outcome]
    ) -> set[int]:
        by_id = ",".join(f'"{o.job_id}":{outcome_row(self, o)}' for o in outcomes)
        params = {"worker_id": worker_id, "ids": ",".join(str(o.job_id) for o in outcomes)}
        # Planned each time, never prepared: a prepared statement's generic plan keeps the
        # ids a parameter, split again and searched one by one for every running job it
        # reads (75 ms for 1,000 outcomes instead of 11); planned with them, they are one
        # constant the server hashes once.
        params |= {"outcomes": f"{{{by_id}}}"}
        cursor.execute(self.queries["acknowledge_jobs"], params, prepare=False)
        return {row[0] for row in cursor.fetchall()}

    def acknowledge_and_claim(
        self, worker_id: str, outcomes: Sequence[Outcome], claim: Claim
    ) -> tuple[set[int], list[ClaimedJob]]:
        """Record the outcomes and claim at once, on two connections and transactions: the
        server records on one backend while it claims on another, and this process decodes
        the claimed jobs meanwhile. They commit together, as on one transaction: the
        outcomes once the claim was made, then the claim once they are committed; either
        failing, neither is (and the error is raised). Only a claim whose commit fails
        after the outcomes' did leaves them recorded and nothing claimed."""
        if not outcomes:
            return set(), self.claim(worker_id, *claim)
        if self._recorder is None:
            self._recorder = ThreadPoolExecutor(1, thread_name_prefix="pjobs-recorder")
        claimed = Future[bool]()  # whether the claim was made (then the outcomes commit)

        def once_claimed(cursor: Any) -> None:
            if not claimed.result():
                raise RuntimeError("the claim failed")  # rolls the outcomes back

        recorded = self._recorder.submit(
            acknowledge_outcomes, self, worker_id, outcomes, once_claimed
        )
        committing = False
        try:
            with self.transaction() as cursor:
                try:
                    jobs = self.claim_on(cursor, worker_id, claim)
                except BaseException:
                    claimed.set_result(False)
                    recorded.exception()  # waited for: the outcomes are rolled back
                    raise
                claimed.set_result(True)
                acknowledged = recorded.result()  # raised: the claim is rolled back
                committing = True
        except Exception:
            if not committing:
                raise
            log.warning("claiming failed after outcomes were recorded", exc_info=True)
            return acknowledged, []
        return acknowledged, jobs

    def claim_on(
        self, cursor: psycopg.Cursor[Any], worker_id: str, claim: Claim
    ) -> list[ClaimedJob]:
        cursor.execute(self.queries["claim_settings"])
        return super().claim_on(cursor, worker_id, claim)

    def claimed_jobs(self, rows: list[Any], started: datetime) -> list[ClaimedJob]:
        """claim_jobs returns each job's row as a ClaimedJob has it, best first."""
        return list(map(ClaimedJob._make, rows))

    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        return self._rowcount("release_jobs", {"worker_id": worker_id, "ids": list(job_ids)})

    def _rescue(self, params: dict[str, Any]) -> int:
        return len(self._rows("rescue_expired", params, True))

    def refresh_statistics(self) -> None:
        """ANALYZE the jobs once they changed by more than a tenth since their statistics
        were taken (autovacuum may be a minute away): a claim planned on statistics from
        before a burst of jobs reads and sorts every queued job. A role that does not own
        the table (pjobs' owns the tables it created) gets a warning and changes nothing."""
        with self.transaction() as cursor:
            cursor.execute(self.queries["jobs_statistics_stale"])
            if cursor.fetchone() == (True,):
                cursor.execute(self.queries["analyze_jobs"])

    def record_job_types(self, types: Sequence[tuple[str, str, int]], now: datetime) -> None:
        names, queues, attempts = (list(column) for column in zip(*types, strict=True))
        params = {"names": names, "queues": queues, "attempts": attempts, "now": now}
        with self.transaction() as cursor:
            cursor.execute(self.queries["record_job_types"], params)

    def reclaim_finished(self) -> None:
        """VACUUM the jobs once their dead rows outnumber a twentieth of them (and 10,000):
        a job that ran leaves a dead row behind each state it went through, and the claim's
        index scan steps over the dead entries of every job that was ever queued until a
        vacuum removes them (a drain after a million jobs ran at two thirds of the speed).
        Autovacuum gets there too, a minute or more later. Another worker's vacuum is not
        waited for (SKIP_LOCKED); a role that does not own the table changes nothing."""
        with self.transaction(write=False) as cursor:  # VACUUM runs outside a transaction
            cursor.execute(self.queries["jobs_dead_rows_many"])
            if cursor.fetchone() == (True,):
                cursor.execute(self.queries["vacuum_jobs"])

    def wait_for(self, topic: Topic, timeout: float, stop: threading.Event) -> None:
        """LISTEN on pjobs_TOPIC (a connection of its own, kept) until a NOTIFY comes."""
        try:
            listener = self._listeners.get(topic)
            if listener is None:
                listener = psycopg.connect(self._url, autocommit=True, **self._connect_kwargs)
                self._listeners[topic] = listener
                listener.execute(self.queries[f"listen_{topic}"])
            remaining = timeout
            while remaining > 0 and not stop.is_set():
                slice_ = min(remaining, WAIT_SLICE_SECONDS)
                for _ in listener.notifies(timeout=slice_, stop_after=1):
                    return
                remaining -= slice_
        except psycopg.Error as exc:
            dropped = self._listeners.pop(topic, None)
            if dropped is not None:
                dropped.close()
            raise self.translate(exc) from None
