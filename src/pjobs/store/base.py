"""The Store interface: every database call pjobs makes about jobs, behind one class.

`SqlStore` holds what the two dialects share (named queries, rows by column name, the
queue operations whose SQL is common); `SQLiteStore` and `PostgresStore` supply
connections, transactions, error translation and the few operations whose mechanics
differ (bulk insert, batch acknowledgement, rescue, wake-ups).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar

from pjobs.errors import IntegrityConflict, InvalidStateError, PjobsError
from pjobs.store import migrate
from pjobs.store.outcomes import acknowledge_outcomes
from pjobs.store.queries import Migration, load_queries
from pjobs.store.records import (
    AttemptRecord,
    Claim,
    ClaimedJob,
    EnqueueResult,
    JobRecord,
    NewJob,
    Outcome,
    SchemaStatus,
)
from pjobs.store.rows import build, dict_rows
from pjobs.store.staging import StagedRecords

R = TypeVar("R")
Then = Callable[[Any], None]  # run with a transaction's cursor before it commits
NO_MARGIN = timedelta(0)

# What a store can wait for news of (PostgreSQL: a LISTEN channel, pjobs_TOPIC).
Topic = Literal["jobs", "events"]


class SqlStore(ABC):
    dialect: str
    display_name: str  # how messages name the database (no password)

    def __init__(self) -> None:
        self.queries = load_queries(self.dialect)
        # `iso`: the last second written, and its text (a tuple: threads replace it whole)
        self._second: tuple[tuple[int, ...], str] = ((), "")

    # -- what each dialect provides ---------------------------------------------------------

    @abstractmethod
    def transaction(self, write: bool = True) -> AbstractContextManager[Any]:
        """A cursor inside one transaction, committed on success, rolled back on error;
        driver errors come out as pjobs errors by kind (`pjobs.store.errors`)."""

    @abstractmethod
    def ts(self, value: datetime | None) -> Any:
        """A time as this driver's parameter."""

    def day(self, value: date) -> Any:
        """A calendar day as this driver's parameter (PostgreSQL's `date`)."""
        return value

    def iso(self, value: datetime) -> str:
        """A time as text: ISO 8601 in UTC to the microsecond, so that text compares as
        time does (SQLite's times; the times of outcomes' JSON). The part to the second is
        kept for the last second seen: a worker writes two times an attempt, nearly all
        within the same second (a fifth of the cost of `isoformat`)."""
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        second = (value.year, value.month, value.day, value.hour, value.minute, value.second)
        last = self._second
        if last[0] != second:
            last = self._second = (second, value.isoformat(timespec="seconds")[:-6])
        return f"{last[1]}.{value.microsecond:06d}+00:00"

    @abstractmethod
    def array(self, values: Sequence[str] | None) -> Any:
        """A list of strings as this driver's parameter (`= ANY` / `json_each`)."""

    @abstractmethod
    def stage_usage(self, cursor: Any, records: StagedRecords | None) -> None:
        """Usage records encoded by `staging.encode_records` into the staging table; None
        makes the table, empty, for the transaction (the bulk path of usage)."""

    @abstractmethod
    def enqueue_on(self, cursor: Any, jobs: Sequence[NewJob], now: datetime) -> list[EnqueueResult]:
        """Insert jobs on an open transaction; an idempotency key already active yields
        that job instead. Nothing is visible to workers before the caller commits."""

    @abstractmethod
    def acknowledge_on(self, cursor: Any, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        """Record how attempts ended, on an open transaction; returns the ids this worker
        still held (the others' outcomes are not recorded)."""

    @abstractmethod
    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        """Put claimed jobs back, unstarted, for any worker to take."""

    def rescue_expired(
        self,
        now: datetime,
        max_rescues: int,
        margin: timedelta = NO_MARGIN,
        spare: str | None = None,
    ) -> int:
        """Requeue (or fail) running jobs whose lease expired more than `margin` ago,
        except those of the worker `spare` (the sweeping worker's own); returns how many."""
        params = {"now": self.ts(now), "expired_before": self.ts(now - margin)}
        return self._rescue(params | {"max_rescues": max_rescues, "spare": spare})

    @abstractmethod
    def _rescue(self, params: dict[str, Any]) -> int:
        """`rescue_expired` with its parameters as the named queries take them."""

    @abstractmethod
    def refresh_statistics(self) -> None:
        """Bring stale planner statistics of the jobs up to date (the worker's maintenance)."""

    @abstractmethod
    def record_job_types(self, types: Sequence[tuple[str, str, int]], now: datetime) -> None:
        """Record job types (name, queue, max attempts) for enqueues made in SQL."""

    @abstractmethod
    def reclaim_finished(self) -> None:
        """Reclaim the space of the jobs' rows that finished (the worker's maintenance, on
        a thread of its own)."""

    @abstractmethod
    def wait_for(self, topic: Topic, timeout: float, stop: threading.Event) -> None:
        """Block until there may be news of `topic` (new jobs, new platform events),
        `timeout` passes, or `stop` is set."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def apply_migration(self, cursor: Any, migration: Migration) -> None: ...

    # -- conversions (the `rows.Codec` of this store) ---------------------------------------

    @staticmethod
    def from_ts(value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    @classmethod
    def from_ts_or_none(cls, value: Any) -> datetime | None:
        return None if value is None else cls.from_ts(value)

    @staticmethod
    def from_day(value: Any) -> date:
        return date.fromisoformat(value) if isinstance(value, str) else value

    def from_json(self, value: Any) -> Any:
        """A JSON column as Python data (the PostgreSQL driver decodes jsonb itself)."""
        return value

    def record(self, cls: type[R], row: dict[str, Any]) -> R:
        return build(cls, row, self)

    def packed_rows(self, cursor: Any) -> list[dict[str, Any]]:
        """The rows of a query that may pack them into one (`SQLiteStore.packed_rows`),
        each as {column: value}."""
        return dict_rows(cursor)

    def _claimed(self, row: dict[str, Any]) -> ClaimedJob:
        return ClaimedJob.from_row(
            row,
            self.from_ts(row["run_at"]),
            self.from_ts(row["started_at"]),
        )

    # -- shared operations ----------------------------------------------------------------

    def _rows(
        self, name: str, params: dict[str, Any] | None = None, write: bool = False
    ) -> list[dict[str, Any]]:
        with self.transaction(write) as cursor:
            cursor.execute(self.queries[name], params or {})
            return dict_rows(cursor)

    def _rowcount(self, name: str, params: dict[str, Any]) -> int:
        with self.transaction() as cursor:
            cursor.execute(self.queries[name], params)
            return int(cursor.rowcount)

    def enqueue(self, jobs: Sequence[NewJob], now: datetime) -> list[EnqueueResult]:
        """Insert jobs in a transaction of their own (see `enqueue_on`)."""
        if not jobs:
            return []
        with self.transaction() as cursor:
            return self.enqueue_on(cursor, jobs, now)

    def acknowledge(self, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        """Record how attempts ended, with their writes (`pjobs.store.outcomes`); returns
        the ids of those this worker still held."""
        return acknowledge_outcomes(self, worker_id, outcomes)

    def acknowledge_and_claim(
        self, worker_id: str, outcomes: Sequence[Outcome], claim: Claim
    ) -> tuple[set[int], list[ClaimedJob]]:
        """`acknowledge`, then `claim` on the same transaction: a turn of the worker's
        loop is one transaction."""
        claimed: list[ClaimedJob] = []

        def then(cursor: Any) -> None:
            claimed[:] = self.claim_on(cursor, worker_id, claim)

        return acknowledge_outcomes(self, worker_id, outcomes, then), claimed

    def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_expires_at: datetime,
    ) -> list[ClaimedJob]:
        """Take up to `limit` due jobs for this worker, best first."""
        with self.transaction() as cursor:
            return self.claim_on(cursor, worker_id, Claim(queues, limit, now, lease_expires_at))

    def claim_on(self, cursor: Any, worker_id: str, claim: Claim) -> list[ClaimedJob]:
        """`claim`, on an open transaction."""
        cursor.execute(self.queries["claim_jobs"], self.claim_params(worker_id, claim))
        return self.claimed_jobs(cursor.fetchall(), claim.now)

    def claim_params(self, worker_id: str, claim: Claim) -> dict[str, Any]:
        """The parameters of claim_jobs."""
        params = {"worker_id": worker_id, "queues": self.array(claim.queues)}
        params |= {"limit": claim.limit, "now": self.ts(claim.now)}
        params["lease_expires_at"] = self.ts(claim.lease_expires_at)
        return params

    def claimed_jobs(self, rows: list[Any], started: datetime) -> list[ClaimedJob]:
        """The jobs of a claim's rows, best first. By position (the columns it returns),
        not by name: the hot path. Each job started at the claim's now."""
        from_ts = self.from_ts
        jobs = [
            ClaimedJob(
                id, type, queue, payload, attempts, max_attempts, priority, from_ts(run_at),
                started, requested_by, time_limit,
            )
            for (
                id, type, queue, payload, attempts, max_attempts, priority, run_at,
                requested_by, time_limit,
            ) in rows
        ]  # fmt: skip
        jobs.sort(key=lambda job: (-job.priority, job.run_at, job.id))
        return jobs

    def interrupt(
        self,
        worker_id: str,
        job_ids: Sequence[int],
        now: datetime,
        error: str,
        cancel: bool = False,
    ) -> int:
        """Stop attempts that are running and will not end here: each is recorded
        `interrupted` and counts, so a job that never ends reaches `failed` at last; with
        `cancel`, the jobs are cancelled instead of put back (an operator stopped them)."""
        rows = [
            {"id": job_id, "worker_id": worker_id, "now": self.ts(now), "error": error}
            for job_id in job_ids
        ]
        if not rows:
            return 0
        with self.transaction() as cursor:
            cursor.executemany(self.queries["record_interrupted_attempt"], rows)
            cursor.executemany(
                self.queries["cancel_interrupted_job" if cancel else "interrupt_job"], rows
            )
            return int(cursor.rowcount)

    def claim_job(
        self, job_id: int, worker_id: str, now: datetime, lease_expires_at: datetime
    ) -> ClaimedJob | None:
        """Claim one queued job by id (an inline run taking its own retry)."""
        rows = self._rows(
            "claim_job",
            {
                "id": job_id,
                "worker_id": worker_id,
                "now": self.ts(now),
                "lease_expires_at": self.ts(lease_expires_at),
            },
            write=True,
        )
        return self._claimed(rows[0]) if rows else None

    def renew_leases(
        self, worker_id: str, lease_expires_at: datetime, alive_at: datetime | None = None
    ) -> int:
        """Renew the leases of a worker's running jobs; with `alive_at`, also say that the
        worker is alive then (`workers_alive`). How many leases."""
        params = {"worker_id": worker_id, "lease_expires_at": self.ts(lease_expires_at)}
        with self.transaction() as cursor:
            cursor.execute(self.queries["renew_leases"], params)
            renewed = int(cursor.rowcount)
            if alive_at is not None:
                now = self.ts(alive_at)
                cursor.execute(self.queries["beat_worker"], {"id": worker_id, "now": now})
        return renewed

    def forget_worker(self, worker_id: str, gone_before: datetime) -> None:
        """A worker stopped; so did those not seen since `gone_before`."""
        params = {"id": worker_id, "before": self.ts(gone_before)}
        self._rowcount("forget_workers", params)

    def workers_alive(self, since: datetime) -> list[tuple[str, datetime, datetime]]:
        """(id, started at, last seen) of each worker seen since a time."""
        rows = self._rows("workers_seen", {"since": self.ts(since)})
        return [(r["id"], self.from_ts(r["started_at"]), self.from_ts(r["seen_at"])) for r in rows]

    def answers(self, timeout: float) -> bool:
        """Whether the database answers a trivial query within about `timeout` seconds
        (the health checks of `serve --http`)."""
        try:
            self._rows("count_jobs_quickly")
        except PjobsError:
            return False
        return True

    def get_job(self, job_id: int) -> JobRecord | None:
        rows = self._rows("get_job", {"id": job_id})
        return self.record(JobRecord, rows[0]) if rows else None

    def list_jobs(
        self,
        state: str | None = None,
        type: str | None = None,
        queue: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobRecord]:
        params = {"state": state, "type": type, "queue": queue, "limit": limit, "offset": offset}
        return [self.record(JobRecord, row) for row in self._rows("list_jobs", params)]

    def finished_by_bucket(
        self, since: datetime, bucket_seconds: int
    ) -> list[tuple[int, str, int]]:
        """(bucket, state, count) of the jobs that finished since a time, a bucket being
        `bucket_seconds` since the epoch."""
        params = {"since": self.ts(since), "bucket": bucket_seconds}
        rows = self._rows("finished_by_bucket", params)
        return [(int(r["bucket"]), r["state"], int(r["count"])) for r in rows]

    def job_attempts(self, job_id: int) -> list[AttemptRecord]:
        rows = self._rows("job_attempts", {"id": job_id})
        return [self.record(AttemptRecord, row) for row in rows]

    def cancel_job(self, job_id: int, now: datetime, then: Then | None = None) -> bool:
        """Cancel a queued job; whether it was. `then(cursor)` runs on the same
        transaction once it was (an audit event of it, say)."""
        return self._change_job("cancel_job", job_id, now, then)

    def _change_job(self, query: str, job_id: int, now: datetime, then: Then | None) -> bool:
        with self.transaction() as cursor:
            cursor.execute(self.queries[query], {"id": job_id, "now": self.ts(now)})
            changed = bool(cursor.fetchall())
            if changed and then is not None:
                then(cursor)
        return changed

    def retry_jobs(
        self,
        state: str,
        type_name: str | None,
        since: datetime | None,
        now: datetime,
        dry_run: bool = False,
        then: Callable[[Any, list[int]], None] | None = None,
    ) -> list[int]:
        """Queue again, with fresh attempts, every job in `state` (failed or cancelled) of
        a type (or any) finished since a time (or ever); their ids (only found, if dry).
        `then(cursor, ids)` runs on the same transaction when some were."""
        params = {"state": state, "type": type_name, "since": self.ts(since), "now": self.ts(now)}
        if dry_run:
            return sorted(int(row["id"]) for row in self._rows("retryable_jobs", params))
        with self.transaction() as cursor:
            cursor.execute(self.queries["retry_jobs"], params)
            ids = sorted(int(row["id"]) for row in dict_rows(cursor))
            if ids and then is not None:
                then(cursor, ids)
        return ids

    def retry_job(self, job_id: int, now: datetime, then: Then | None = None) -> bool:
        """Queue a failed or cancelled job again; whether it was (`then`: see cancel_job)."""
        try:
            return self._change_job("retry_job", job_id, now, then)
        except IntegrityConflict:
            raise InvalidStateError(
                f"job {job_id} cannot be retried: another job with its idempotency key "
                "is queued or running"
            ) from None

    def purge_jobs(self, before: datetime) -> int:
        return self._rowcount("purge_jobs", {"before": self.ts(before)})

    def count_purgeable(self, before: datetime) -> int:
        return int(self._rows("count_purgeable", {"before": self.ts(before)})[0]["count"])

    def job_counts(self) -> list[tuple[str, str, int]]:
        """(state, type, count) of every job, in that order."""
        counts: dict[tuple[str, str], int] = {}
        for state, type_name, _queue, count in self.job_counts_by_queue():
            counts[state, type_name] = counts.get((state, type_name), 0) + count
        return [(state, type_name, n) for (state, type_name), n in sorted(counts.items())]

    def job_counts_by_queue(self) -> list[tuple[str, str, str, int]]:
        """(state, type, queue, count) of every job."""
        rows = self._rows("count_jobs_by_queue")
        return [(r["state"], r["type"], r["queue"], int(r["count"])) for r in rows]

    def finished_since(self, since: datetime) -> list[tuple[str, str, str, int]]:
        """(state, type, queue, count) of the jobs that finished since `since`."""
        rows = self._rows("finished_since", {"since": self.ts(since)})
        return [(r["state"], r["type"], r["queue"], int(r["count"])) for r in rows]

    def running_workers(self) -> int:
        return int(self._rows("running_workers")[0]["count"])

    def recent_failures(self, limit: int) -> list[JobRecord]:
        return [self.record(JobRecord, r) for r in self._rows("recent_failures", {"limit": limit})]

    def oldest_due(self, now: datetime) -> datetime | None:
        rows = self._rows("oldest_due", {"now": self.ts(now)})
        return self.from_ts_or_none(rows[0]["oldest"]) if rows else None

    # -- schema (see pjobs.store.migrate) ---------------------------------------------------

    def schema_status(self) -> SchemaStatus:
        return migrate.schema_status(self)

    def upgrade(self, now: datetime) -> list[Migration]:
        return migrate.upgrade(self, now)

    def ensure_schema(self, now: datetime, upgrade: bool) -> None:
        migrate.ensure_schema(self, now, upgrade)


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
