"""Job types: a payload model, a handler and a retry policy under one name, the registry
that holds them, and the context a handler runs with. Where types come from (built in,
plugins) is `pjobs.plugins`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pjobs.errors import ConfigError, InvalidInputError
from pjobs.retry import ONE_SHOT, RetryPolicy

if TYPE_CHECKING:
    from pjobs.adapters import Integrations
    from pjobs.config import Settings
    from pjobs.control import ControlTx
    from pjobs.enqueue import EnqueueOptions
    from pjobs.notify import Notifier
    from pjobs.store import Store
    from pjobs.store.records import EnqueueResult, OutcomeRow
    from pjobs.timeutil import Clock

# Writes the rows many attempts asked to make with their outcomes (`with_outcome_row`).
RowsWrite = Callable[["ControlTx", list[str]], None]
# Reads what the attempts of claimed jobs of one type will need, given their payloads as
# claimed (not yet checked): one value a payload, None where there is nothing to read.
Preload = Callable[["ControlTx", list[Any]], list[Any]]

__all__ = [
    "ONE_SHOT",
    "Deferred",
    "JobContext",
    "JobType",
    "Misconfigured",
    "PermanentFailure",
    "Refused",
    "Registry",
    "RetryAfter",
    "RetryPolicy",
]


class PermanentFailure(Exception):
    """Raised by a handler when trying again cannot help (bad data, refused for good)."""

    exit_code: int | None = None  # what an inline caller exits with (None: 1, job failed)


class Refused(PermanentFailure):
    """The request does not fit the state of things (a key already rotated, a project
    deprovisioned): the job fails at once, and an inline caller exits 65 with the reason."""

    exit_code = 65


class Misconfigured(PermanentFailure):
    """The job cannot run with this configuration (a missing program, key or setting): it
    fails at once, and an inline caller exits 78 with the reason."""

    exit_code = 78


class RetryAfter(Exception):
    """Raised by a handler to be tried again after `seconds` (e.g. an HTTP Retry-After)."""

    def __init__(self, seconds: float, message: str) -> None:
        super().__init__(message)
        self.seconds = seconds


class Deferred(RetryAfter):
    """Raised by a handler that did not start its work, for a reason that is not the
    job's (a slow endpoint holds its share of the runners): the job runs again after
    `seconds`, and this attempt neither counts nor shows in its history."""


@dataclass
class JobContext:
    """What a handler may use. Handlers reach for nothing else, so tests can pass fakes."""

    job_id: int
    attempt: int
    max_attempts: int
    store: Store
    clock: Clock
    settings: Settings
    registry: Registry
    integrations: Integrations
    notifier: Notifier
    # Secrets to show once to whoever runs the job inline; never stored, never logged.
    revealed: dict[str, str] = field(default_factory=dict)
    requested_by: str | None = None  # the operator or automation that enqueued the job
    # Jobs this attempt enqueued; an inline run runs them inline too, once it succeeded.
    followups: list[int] = field(default_factory=list)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("pjobs.job"))
    # What `with_outcome` and `with_outcome_row` were given, in order.
    outcome_writes: list[Callable[[ControlTx], None]] = field(default_factory=list)
    outcome_rows: list[tuple[RowsWrite, str]] = field(default_factory=list)
    # What the job type's `preload` read for this attempt with its claim, a moment ago;
    # None: nothing was (an inline run, a claim too long ago): the handler reads it itself.
    preloaded: Any = None

    def enqueue(
        self,
        tx: ControlTx,
        type_name: str,
        payload: dict[str, Any],
        options: EnqueueOptions | None = None,
    ) -> EnqueueResult:
        """Enqueue a follow-up job on the handler's own transaction: it exists if and only
        if the change it follows from is committed."""
        return self.enqueue_many(tx, type_name, [payload], options)[0]

    def enqueue_many(
        self,
        tx: ControlTx,
        type_name: str,
        payloads: Sequence[dict[str, Any]],
        options: EnqueueOptions | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[EnqueueResult]:
        """`enqueue` for many jobs of one type, in one statement; `keys`: an idempotency
        key for each payload (a job whose key is active already is not enqueued again)."""
        from dataclasses import replace

        from pjobs.enqueue import EnqueueOptions, prepare_jobs

        options = options or EnqueueOptions()
        # a follow-up is asked for by whoever asked for this job
        options = replace(options, requested_by=options.requested_by or self.requested_by)
        jobs = prepare_jobs(
            self.registry, self.settings, [(type_name, p) for p in payloads], options, tx.now
        )
        if keys is not None:
            jobs = [replace(job, idempotency_key=key) for job, key in zip(jobs, keys, strict=True)]
        results = tx.jobs.enqueue(jobs)
        self.followups.extend(r.id for r in results)
        return results

    def announce(
        self,
        tx: ControlTx,
        event_type: str,
        project_id: str | None,
        data: dict[str, Any],
        target: str | None = None,
    ) -> None:
        """Record a change the platform publishes: its audit event, its platform event
        (`control.events`) and a webhook delivery to each endpoint that wants it
        (`deliveries.fan_out`), all on the handler's transaction."""
        self.announce_many(tx, event_type, [(project_id, data)], target)

    def announce_many(
        self,
        tx: ControlTx,
        event_type: str,
        items: Sequence[tuple[str | None, dict[str, Any]]],
        target: str | None = None,
    ) -> None:
        """`announce` for many projects at once (a few round trips, however many)."""
        from pjobs.deliveries import fan_out

        changes = [(project_id, target, data) for project_id, data in items]
        tx.audit.append_many(self.actor, event_type, changes, self.job_id)
        tx.events.emit(event_type, items, self.actor, self.job_id)
        fan_out(tx, self.registry, self.settings, event_type, items, self.actor)

    def with_outcome(self, write: Callable[[ControlTx], None]) -> None:
        """Make `write` on the transaction that records how this attempt ended (after the
        handler returns or raises): it is committed if and only if the outcome is, and
        only while this attempt still holds its job. A handler whose attempt has an effect
        outside (a request sent) records it this way rather than on a transaction of its
        own: one transaction less an attempt, and a worker writes many outcomes at once."""
        self.outcome_writes.append(write)

    def with_outcome_row(self, write: RowsWrite, row: Mapping[str, Any]) -> None:
        """`with_outcome` for a write every attempt of a kind makes: `row` is written by
        one call of `write` (a module's function) with the rows of all the attempts whose
        outcomes are recorded on the same transaction, each as a JSON object (`run_rows`):
        one statement for a batch of outcomes, not one an attempt. Rows are encoded here,
        on the attempt's thread, and written before `with_outcome`'s writes."""
        from pjobs.store.outcomes import json_row

        self.outcome_rows.append((write, json_row(self.store, row)))

    def writes_with_outcome(self) -> Callable[[Any], None] | None:
        """What `with_outcome` was given, as one call on the recording transaction's cursor."""
        if not self.outcome_writes:
            return None
        writes = list(self.outcome_writes)

        def write(cursor: Any) -> None:
            tx = self._tx_on(cursor)
            for each in writes:
                each(tx)

        return write

    def rows_with_outcome(self) -> tuple[OutcomeRow, ...]:
        """What `with_outcome_row` was given, each row with its kind and how to write it."""
        from pjobs.store.records import OutcomeRow

        def writer(kind: RowsWrite) -> Callable[[Any, list[str]], None]:
            return lambda cursor, rows: kind(self._tx_on(cursor), rows)

        return tuple(OutcomeRow(kind, row, writer(kind)) for kind, row in self.outcome_rows)

    def _tx_on(self, cursor: Any) -> ControlTx:
        from pjobs.control import ControlTx

        return ControlTx(self.store, cursor, self.clock.now())

    @property
    def actor(self) -> str:
        """Who the audit trail says did it: who asked for the job (else the job itself)."""
        return self.requested_by or f"job:{self.job_id}"

    def audit(
        self,
        tx: ControlTx,
        action: str,
        project_id: str | None,
        target: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event naming who asked for this job, and the job."""
        tx.audit.append(self.actor, action, project_id, target, data, job_id=self.job_id)

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def reveal(self, label: str, secret: str) -> None:
        self.revealed[label] = secret


Handler = Callable[[Any, JobContext], Any]


@dataclass(frozen=True)
class JobType:
    name: str
    payload: type[BaseModel]
    handler: Handler
    retry: RetryPolicy = ONE_SHOT
    queue: str = "default"
    description: str = ""
    time_limit: float | None = None  # seconds an attempt may run (None: worker.time_limit)
    # Read for many claimed jobs at once what their attempts need (`JobContext.preloaded`):
    # one query a claim, not one an attempt.
    preload: Preload | None = None


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def add(self, job_type: JobType) -> None:
        existing = self._types.get(job_type.name)
        if existing is not None and existing.handler is not job_type.handler:
            raise ConfigError(f"job type {job_type.name!r} is registered twice")
        self._types[job_type.name] = job_type

    def get(self, name: str) -> JobType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise InvalidInputError(f"unknown job type {name!r} (known: {known})") from None

    def find(self, name: str) -> JobType | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)

    def load_all(self) -> None:
        """Load every job type now; here each was added already."""
