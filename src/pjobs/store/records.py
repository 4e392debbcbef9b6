"""What the queue's tables hold, as Python values: jobs to insert, claimed jobs, outcomes
of attempts, and the records operators read. Rows are read by column name."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pjobs.store.queries import Migration
from pjobs.store.rows import JSON_VALUE

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATES = ("queued", "running", "succeeded", "failed", "cancelled")  # a job's, in order
FINISHED_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class JobFilter:
    """The jobs the dashboard lists, counts and acts on: each part given narrows them."""

    state: str | None = None
    type: str | None = None
    queue: str | None = None
    project: str | None = None  # the project_id a payload names
    since: datetime | None = None  # enqueued since


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
    requested_by: str | None = None  # the operator or automation that asked for it
    time_limit: float | None = None  # seconds an attempt may run (None: the default)

    @property
    def plain(self) -> bool:
        """Queued with nothing to check: no idempotency key, not claimed at once (the
        stores' bulk path)."""
        return not (self.idempotency_key or self.worker_id)


class EnqueueResult(NamedTuple):
    """A tuple, not a dataclass: batches create a hundred thousand of these at a time."""

    id: int
    created: bool  # False: an active job with the same idempotency key already existed


class Claim(NamedTuple):
    """What a worker asks to claim: up to `limit` jobs due at `now` (of `queues`, else of
    all), leased until `lease_expires_at`."""

    queues: Sequence[str] | None
    limit: int
    now: datetime
    lease_expires_at: datetime


class ClaimedJob(NamedTuple):
    """A job a worker claimed. A tuple, made from the claim's row as it comes (its columns
    in this order): a claim makes a thousand at a time, on the worker's hot path."""

    id: int
    type: str
    queue: str
    payload_json: str  # as stored; its type's model reads it (`model_validate_json`)
    attempt: int
    max_attempts: int
    priority: int
    run_at: datetime
    started_at: datetime
    requested_by: str | None = None
    time_limit: float | None = None  # the job's own, if it has one

    @property
    def payload(self) -> Any:
        """The payload as Python data (decoded each time it is asked for)."""
        return json.loads(self.payload_json)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], run_at: Any, started: Any) -> ClaimedJob:
        """Built from a row by column name (a claim of one job), not by `rows.build`."""
        return cls(
            row["id"],
            row["type"],
            row["queue"],
            row["payload"],
            row["attempts"],
            row["max_attempts"],
            row["priority"],
            run_at,
            started,
            row["requested_by"],
            row["time_limit"],
        )


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """A row an attempt asked to write with its outcome (`JobContext.with_outcome_row`).
    The rows of one `kind` of all the outcomes recorded on one transaction are written by
    one call of `write` (any of theirs: they write alike), given the cursor and the rows."""

    kind: Hashable
    row: str  # JSON (`store.outcomes.json_row`)
    write: Callable[[Any, list[str]], None]


# An outcome's history for an attempt that did not start its work (`jobtypes.Deferred`):
# the job is queued again with the attempt given back, and no attempt is recorded.
DEFERRED = "deferred"
# How the error of an attempt whose payload its type's model refused begins (a job enqueued
# in SQL, `pjobs_enqueue`, is checked when claimed): failed for good, counted in /metrics.
INVALID_PAYLOAD = "invalid payload"


@dataclass(slots=True)
class Outcome:
    """How one attempt ended. `state` is the job's next state: queued means retry at run_at.
    Not frozen: a frozen dataclass sets each field through `object.__setattr__`, and a
    worker makes one an attempt; nothing changes one once made but `encoded`, set once by
    the runner that made it (`store.outcomes.encoded`)."""

    job_id: int
    attempt: int
    state: Literal["succeeded", "queued", "failed"]
    started_at: datetime
    finished_at: datetime
    result: str | None = None  # JSON text
    error: str | None = None
    traceback: str | None = None
    run_at: datetime | None = None
    history: str | None = None  # how the attempt shows in its history when not plain
    # succeeded/failed: "timed_out"; DEFERRED: not at all
    # Writes the attempt asked to make with its outcome (`JobContext.with_outcome`): run
    # with the cursor of the transaction that records the outcome, if it still holds its job.
    writes: Callable[[Any], None] | None = None
    # Rows it asked to write with it (`JobContext.with_outcome_row`), written before `writes`.
    rows: tuple[OutcomeRow, ...] = ()
    # This outcome as the store records it (`store.outcomes.outcome_row`), made on the
    # runner's thread, so that the worker's loop, which records for every runner, need not.
    encoded: str | None = None

    @property
    def has_writes(self) -> bool:
        return self.writes is not None or bool(self.rows)

    @property
    def has_attempt_row(self) -> bool:
        """Whether its attempt is a row of job_attempts: not a success (kept on the job's
        own row) nor a deferral (no attempt at all)."""
        return self.state != "succeeded" and self.history != DEFERRED

    def unwritten(self, fault: Exception) -> Outcome:
        """This outcome as a failure for good, recorded without its writes, which failed."""
        why = f"recording the attempt failed: {type(fault).__name__}: {fault}"
        error = why if self.error is None else f"{self.error}; then {why}"
        started, finished = self.started_at, self.finished_at
        return Outcome(self.job_id, self.attempt, "failed", started, finished, None, error)


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    type: str
    queue: str
    payload: Annotated[dict[str, Any], JSON_VALUE]
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
    result: Annotated[Any, JSON_VALUE]
    last_error: str | None
    requested_by: str | None
    time_limit: float | None


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
