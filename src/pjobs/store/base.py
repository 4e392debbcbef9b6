"""The Store: every database call pjobs makes, behind one interface.

`SqlStore` holds what the two dialects share (named queries, row mapping, migrations);
`SQLiteStore` and `PostgresStore` supply connections, transactions and the few operations
whose mechanics differ (bulk insert, batch acknowledgement, wake-ups).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from pjobs.errors import ConfigError, InvalidStateError
from pjobs.store.queries import Migration, load_migrations, load_queries

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(slots=True)
class NewJob:
    """A validated job to insert. With `worker_id` set it is inserted already claimed."""

    type: str
    payload: str  # JSON text, already validated against the job type's model
    queue: str
    priority: int
    max_attempts: int
    run_at: datetime
    idempotency_key: str | None = None
    worker_id: str | None = None
    lease_expires_at: datetime | None = None


class EnqueueResult(NamedTuple):
    """A tuple, not a dataclass: batches create a hundred thousand of these at a time."""

    id: int
    created: bool  # False: an active job with the same idempotency key already existed


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    type: str
    queue: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    priority: int
    run_at: datetime
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended. `state` is the job's next state: queued means retry at run_at."""

    job_id: int
    attempt: int
    state: Literal["succeeded", "queued", "failed"]
    started_at: datetime
    finished_at: datetime
    result: str | None = None  # JSON text
    error: str | None = None
    traceback: str | None = None
    run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    type: str
    queue: str
    payload: dict[str, Any]
    priority: int
    state: JobState
    attempts: int
    max_attempts: int
    rescues: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    lease_expires_at: datetime | None
    idempotency_key: str | None
    result: Any
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    worker_id: str | None
    outcome: str
    started_at: datetime | None
    finished_at: datetime
    error: str | None
    traceback: str | None


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: int
    latest: int
    pending: tuple[Migration, ...]


class SqlStore(ABC):
    dialect: str
    unique_violation: type[Exception]

    def __init__(self) -> None:
        self.queries = load_queries(self.dialect)
        self._closed = threading.Event()

    # -- what each dialect provides ---------------------------------------------------------

    @abstractmethod
    def transaction(self, write: bool = True) -> AbstractContextManager[Any]:
        """A cursor inside one transaction, committed on success, rolled back on error."""

    @abstractmethod
    def ts(self, value: datetime | None) -> Any:
        """A time as this driver's parameter."""

    @abstractmethod
    def array(self, values: Sequence[str] | None) -> Any:
        """A list of strings as this driver's parameter (`= ANY` / `json_each`)."""

    @abstractmethod
    def enqueue(self, jobs: Sequence[NewJob], now: datetime) -> list[EnqueueResult]:
        """Insert jobs; an idempotency key already active yields that job instead."""

    @abstractmethod
    def finish(self, worker_id: str, outcomes: Sequence[Outcome]) -> set[int]:
        """Acknowledge attempts; returns the ids this worker still held."""

    @abstractmethod
    def release(self, worker_id: str, job_ids: Sequence[int]) -> int:
        """Put claimed jobs back, unstarted, for any worker to take."""

    @abstractmethod
    def rescue_expired(self, now: datetime, max_rescues: int) -> int:
        """Requeue (or fail) running jobs whose lease expired; returns how many."""

    @abstractmethod
    def wait_for_jobs(self, timeout: float, stop: threading.Event) -> None:
        """Block until jobs may be waiting, `timeout` passes, or `stop` is set."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def apply_migration(self, cursor: Any, migration: Migration) -> None: ...

    # -- conversions ----------------------------------------------------------------------

    @staticmethod
    def from_ts(value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    @classmethod
    def from_ts_or_none(cls, value: Any) -> datetime | None:
        return None if value is None else cls.from_ts(value)

    def from_json(self, value: Any) -> Any:
        """A JSON column as Python data (the PostgreSQL driver decodes jsonb itself)."""
        return value

    def _claimed(self, row: Sequence[Any]) -> ClaimedJob:
        return ClaimedJob(
            id=row[0],
            type=row[1],
            queue=row[2],
            payload=self.from_json(row[3]),
            attempt=row[4],
            max_attempts=row[5],
            priority=row[6],
            run_at=self.from_ts(row[7]),
            started_at=self.from_ts(row[8]),
        )

    def _job(self, row: Sequence[Any]) -> JobRecord:
        ts, maybe = self.from_ts, self.from_ts_or_none
        return JobRecord(
            id=row[0],
            type=row[1],
            queue=row[2],
            payload=self.from_json(row[3]),
            priority=row[4],
            state=row[5],
            attempts=row[6],
            max_attempts=row[7],
            rescues=row[8],
            run_at=ts(row[9]),
            created_at=ts(row[10]),
            started_at=maybe(row[11]),
            finished_at=maybe(row[12]),
            worker_id=row[13],
            lease_expires_at=maybe(row[14]),
            idempotency_key=row[15],
            result=self.from_json(row[16]),
            last_error=row[17],
        )

    # -- shared operations ----------------------------------------------------------------

    def _rows(
        self, name: str, params: dict[str, Any] | None = None, write: bool = False
    ) -> list[Any]:
        with self.transaction(write) as cursor:
            cursor.execute(self.queries[name], params or {})
            return list(cursor.fetchall())

    def _rowcount(self, name: str, params: dict[str, Any]) -> int:
        with self.transaction() as cursor:
            cursor.execute(self.queries[name], params)
            return int(cursor.rowcount)

    def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_expires_at: datetime,
    ) -> list[ClaimedJob]:
        """Take up to `limit` due jobs for this worker, best first."""
        rows = self._rows(
            "claim_jobs",
            {
                "worker_id": worker_id,
                "queues": self.array(queues),
                "limit": limit,
                "now": self.ts(now),
                "lease_expires_at": self.ts(lease_expires_at),
            },
            write=True,
        )
        jobs = [self._claimed(row) for row in rows]
        jobs.sort(key=lambda job: (-job.priority, job.run_at, job.id))
        return jobs

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

    def renew_leases(self, worker_id: str, lease_expires_at: datetime) -> int:
        return self._rowcount(
            "renew_leases",
            {"worker_id": worker_id, "lease_expires_at": self.ts(lease_expires_at)},
        )

    def get_job(self, job_id: int) -> JobRecord | None:
        rows = self._rows("get_job", {"id": job_id})
        return self._job(rows[0]) if rows else None

    def list_jobs(
        self,
        state: str | None = None,
        type: str | None = None,
        queue: str | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        rows = self._rows(
            "list_jobs", {"state": state, "type": type, "queue": queue, "limit": limit}
        )
        return [self._job(row) for row in rows]

    def job_attempts(self, job_id: int) -> list[AttemptRecord]:
        rows = self._rows("job_attempts", {"id": job_id})
        return [
            AttemptRecord(
                attempt=row[0],
                worker_id=row[1],
                outcome=row[2],
                started_at=self.from_ts_or_none(row[3]),
                finished_at=self.from_ts(row[4]),
                error=row[5],
                traceback=row[6],
            )
            for row in rows
        ]

    def cancel_job(self, job_id: int, now: datetime) -> bool:
        return bool(self._rows("cancel_job", {"id": job_id, "now": self.ts(now)}, write=True))

    def retry_job(self, job_id: int, now: datetime) -> bool:
        try:
            return bool(self._rows("retry_job", {"id": job_id, "now": self.ts(now)}, write=True))
        except self.unique_violation:
            raise InvalidStateError(
                f"job {job_id} cannot be retried: another job with its idempotency key "
                "is queued or running"
            ) from None

    def purge_jobs(self, before: datetime) -> int:
        return self._rowcount("purge_jobs", {"before": self.ts(before)})

    def count_purgeable(self, before: datetime) -> int:
        return int(self._rows("count_purgeable", {"before": self.ts(before)})[0][0])

    def job_counts(self) -> list[tuple[str, str, int]]:
        return [(row[0], row[1], int(row[2])) for row in self._rows("count_jobs")]

    def oldest_due(self, now: datetime) -> datetime | None:
        rows = self._rows("oldest_due", {"now": self.ts(now)})
        return self.from_ts_or_none(rows[0][0]) if rows else None

    # -- schema ---------------------------------------------------------------------------

    def schema_status(self) -> SchemaStatus:
        migrations = load_migrations(self.dialect)
        with self.transaction(write=False) as cursor:
            cursor.execute(self.queries["migrations_table_exists"])
            exists = bool(cursor.fetchone()[0])
            current = 0
            if exists:
                cursor.execute(self.queries["current_version"])
                current = int(cursor.fetchone()[0])
        latest = migrations[-1].version if migrations else 0
        return SchemaStatus(current, latest, tuple(m for m in migrations if m.version > current))

    def upgrade(self, now: datetime) -> list[Migration]:
        """Apply pending migrations in one transaction; safe to run from many processes."""
        migrations = load_migrations(self.dialect)
        applied: list[Migration] = []
        with self.transaction() as cursor:
            if "lock_migrations" in self.queries:
                cursor.execute(self.queries["lock_migrations"])
            cursor.execute(self.queries["create_migrations_table"])
            cursor.execute(self.queries["current_version"])
            current = int(cursor.fetchone()[0])
            self._check_not_newer(current)
            for migration in migrations:
                if migration.version <= current:
                    continue
                self.apply_migration(cursor, migration)
                cursor.execute(
                    self.queries["record_migration"],
                    {"version": migration.version, "name": migration.name, "now": self.ts(now)},
                )
                applied.append(migration)
        return applied

    def _check_not_newer(self, current: int) -> None:
        migrations = load_migrations(self.dialect)
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise ConfigError(
                f"the database schema is at version {current}, newer than this pjobs knows "
                f"({latest}): upgrade pjobs"
            )

    def ensure_schema(self, now: datetime, upgrade: bool) -> None:
        """Check the schema is current; apply pending migrations when `upgrade` is set."""
        status = self.schema_status()
        self._check_not_newer(status.current)
        if not status.pending:
            return
        if not upgrade:
            raise ConfigError(
                f"the database schema is at version {status.current}, pjobs needs "
                f"{status.latest}: run `pjobs db upgrade`"
            )
        self.upgrade(now)


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
