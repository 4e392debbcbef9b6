"""The queue as the rest of pjobs uses it: validate and enqueue jobs, run them inline,
wait for them, and the operator's verbs (cancel, retry, purge, stats)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pjobs.config import describe_validation_error
from pjobs.errors import InvalidInputError, InvalidStateError, NotFoundError, TemporaryError
from pjobs.jobtypes import JobContext, JobType, Registry
from pjobs.store.base import (
    FINISHED_STATES,
    ClaimedJob,
    EnqueueResult,
    JobRecord,
    NewJob,
)
from pjobs.worker import LeaseKeeper, new_worker_id, run_attempt

if TYPE_CHECKING:
    from pjobs.config import Settings
    from pjobs.store import Store
    from pjobs.timeutil import Clock

log = logging.getLogger("pjobs.queue")

MAX_PRIORITY = 1_000_000
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class EnqueueOptions:
    queue: str | None = None  # None: the job type's own queue
    priority: int = 0
    delay: timedelta | None = None
    max_attempts: int | None = None  # None: the job type's retry policy
    idempotency_key: str | None = None


def prepare_jobs(
    registry: Registry,
    settings: Settings,
    items: Iterable[tuple[str, Any]],
    options: EnqueueOptions,
    now: datetime,
    worker_id: str | None = None,
) -> list[NewJob]:
    """Validate jobs against their types; raises InvalidInputError and touches no database.

    Options are checked once per batch and job types looked up once per name, so a batch
    of a hundred thousand costs little more than its payloads' validation.
    """
    if options.max_attempts is not None and not 1 <= options.max_attempts <= 1000:
        raise InvalidInputError(f"max attempts must be 1 to 1000, not {options.max_attempts}")
    if not -MAX_PRIORITY <= options.priority <= MAX_PRIORITY:
        raise InvalidInputError(f"priority must be within ±{MAX_PRIORITY}")
    key = options.idempotency_key
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidInputError(f"idempotency key must be 1 to {MAX_KEY_LENGTH} characters")
    if options.delay is not None and options.delay < timedelta(0):
        raise InvalidInputError("delay must not be negative")
    run_at = now + (options.delay or timedelta(0))
    lease_expires_at = now + timedelta(seconds=settings.worker.lease_seconds) if worker_id else None
    limit = settings.max_payload_bytes
    types: dict[str, JobType] = {}
    prepared = []
    for type_name, payload in items:
        job_type = types.get(type_name)
        if job_type is None:
            job_type = types[type_name] = registry.get(type_name)
        prepared.append(
            NewJob(
                type_name,
                validated_payload(job_type, payload, limit),
                options.queue or job_type.queue,
                options.priority,
                options.max_attempts or job_type.retry.max_attempts,
                run_at,
                key,
                worker_id,
                lease_expires_at,
            )
        )
    return prepared


def validated_payload(job_type: JobType, payload: Any, limit: int) -> str:
    """The payload as canonical JSON text, after its type's model accepted it."""
    if not isinstance(payload, dict):
        raise InvalidInputError(
            f"invalid payload for {job_type.name}: expected a JSON object, "
            f"got {type(payload).__name__}"
        )
    model = job_type.payload
    try:
        text = model.__pydantic_serializer__.to_json(
            model.__pydantic_validator__.validate_python(payload)
        ).decode()
    except ValidationError as exc:
        raise InvalidInputError(
            describe_validation_error(exc, f"invalid payload for {job_type.name}:", "(payload)")
        ) from None
    if len(text) > limit:
        raise InvalidInputError(
            f"payload is {len(text)} bytes; the limit is {limit} (setting max_payload_bytes)"
        )
    return text


class JobQueue:
    def __init__(self, store: Store, registry: Registry, settings: Settings, clock: Clock) -> None:
        from pjobs.adapters import Adapters

        self.store, self.registry, self.settings, self.clock = store, registry, settings, clock
        self.adapters = Adapters(settings, store, clock)
        # Secrets revealed by jobs this process runs inline, by job id, to show once.
        self.revealed: dict[int, dict[str, str]] = {}

    def close(self) -> None:
        self.adapters.close()

    # -- enqueue --------------------------------------------------------------------------

    def enqueue(
        self, type_name: str, payload: Any, options: EnqueueOptions | None = None
    ) -> EnqueueResult:
        return self.enqueue_many([(type_name, payload)], options)[0]

    def enqueue_many(
        self, jobs: Iterable[tuple[str, Any]], options: EnqueueOptions | None = None
    ) -> list[EnqueueResult]:
        """Validate every job first, then insert them all in one transaction."""
        now = self.clock.now()
        opts = options or EnqueueOptions()
        return self.submit(prepare_jobs(self.registry, self.settings, jobs, opts, now))

    def submit(self, prepared: Sequence[NewJob]) -> list[EnqueueResult]:
        """Insert jobs that `prepare_jobs` validated, in one transaction."""
        return self.store.enqueue(prepared, self.clock.now())

    # -- run here and now -----------------------------------------------------------------

    def context_for(self, job: ClaimedJob) -> JobContext:
        return JobContext(
            job_id=job.id,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            store=self.store,
            clock=self.clock,
            settings=self.settings,
            adapters=self.adapters,
            # Inline runs keep what their attempts reveal; a worker's is dropped with it.
            revealed=self.revealed.get(job.id, {}),
        )

    def run_inline(
        self, type_name: str, payload: Any, options: EnqueueOptions | None = None
    ) -> JobRecord:
        """Enqueue a job claimed by this process and run it to its end, retries included.

        It is a job like any other (history, attempts, leases); if this process dies, a
        worker rescues it. A retry that a `serve` process takes first is waited for.
        """
        worker_id = new_worker_id("inline")
        now = self.clock.now()
        (new,) = prepare_jobs(
            self.registry,
            self.settings,
            [(type_name, payload)],
            options or EnqueueOptions(),
            now,
            worker_id,
        )
        (result,) = self.store.enqueue([new], now)
        if not result.created:
            log.info("job %d with the same idempotency key is active; waiting for it", result.id)
            return self.wait(result.id)
        self.revealed[result.id] = {}
        job: ClaimedJob | None = ClaimedJob(
            result.id,
            new.type,
            new.queue,
            json.loads(new.payload),
            1,
            new.max_attempts,
            new.priority,
            new.run_at,
            now,
        )
        with LeaseKeeper(self.store, worker_id, self.settings, self.clock) as leases:
            while job is not None:
                try:
                    outcome = run_attempt(job, self.registry, self.context_for, self.clock)
                except BaseException:
                    self.store.release(worker_id, [job.id])
                    raise
                self.store.finish(worker_id, [outcome])
                if outcome.state != "queued" or outcome.run_at is None:
                    break
                log.warning(
                    "attempt %d of %d failed: %s; retrying at %s",
                    outcome.attempt,
                    job.max_attempts,
                    outcome.error,
                    outcome.run_at.isoformat(timespec="seconds"),
                )
                time.sleep(max((outcome.run_at - self.clock.now()).total_seconds(), 0))
                job = self.store.claim_job(
                    result.id, worker_id, self.clock.now(), leases.lease_expiry()
                )
        return self.wait(result.id)

    def wait(self, job_id: int, timeout: float | None = None) -> JobRecord:
        """Block until the job is finished; TemporaryError (75) when `timeout` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.01
        while True:
            job = self.get(job_id)
            if job.state in FINISHED_STATES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TemporaryError(
                    f"job {job_id} is still {job.state} after {timeout:g}s; "
                    f"follow it with `pjobs jobs show {job_id}`"
                )
            time.sleep(
                pause if deadline is None else min(pause, max(deadline - time.monotonic(), 0))
            )
            pause = min(pause * 1.5, 0.5)

    # -- the operator's verbs -------------------------------------------------------------

    def get(self, job_id: int) -> JobRecord:
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def cancel(self, job_id: int, dry_run: bool = False) -> JobRecord:
        job = self.get(job_id)
        if job.state == "cancelled":
            return job
        if job.state != "queued":
            raise InvalidStateError(
                f"job {job_id} is {job.state}; only queued jobs can be cancelled"
            )
        if dry_run or self.store.cancel_job(job_id, self.clock.now()):
            return job if dry_run else self.get(job_id)
        return self.cancel(job_id)  # it changed state meanwhile: explain the new one

    def retry(self, job_id: int, dry_run: bool = False) -> JobRecord:
        job = self.get(job_id)
        if job.state not in ("failed", "cancelled"):
            raise InvalidStateError(
                f"job {job_id} is {job.state}; only failed or cancelled jobs can be retried"
            )
        if dry_run:
            return job
        if not self.store.retry_job(job_id, self.clock.now()):
            return self.retry(job_id)
        return self.get(job_id)

    def purge(self, older_than: timedelta, dry_run: bool = False) -> int:
        """Delete finished jobs (and their attempts) that finished before now - older_than."""
        before = self.clock.now() - older_than
        return self.store.count_purgeable(before) if dry_run else self.store.purge_jobs(before)

    def stats(self) -> dict[str, Any]:
        now = self.clock.now()
        by_state: dict[str, int] = {}
        by_type: dict[str, dict[str, int]] = {}
        for state, type_name, count in self.store.job_counts():
            by_state[state] = by_state.get(state, 0) + count
            by_type.setdefault(type_name, {})[state] = count
        oldest = self.store.oldest_due(now)
        return {
            "states": by_state,
            "types": by_type,
            "total": sum(by_state.values()),
            "oldest_due_age_seconds": None if oldest is None else (now - oldest).total_seconds(),
        }
