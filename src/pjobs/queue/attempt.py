"""One attempt of a claimed job: validate its payload, run its handler, and say how it
ended (succeeded, retry at a time, or failed for good); it never raises for a job's fault."""

from __future__ import annotations

import json
import logging
import random
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from pjobs.errors import ConfigError
from pjobs.ids import describe_validation_error
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import Deferred, PermanentFailure, Preload, Registry, RetryAfter
from pjobs.queue.reveal import kept_for_who_asked
from pjobs.redaction import redact
from pjobs.store.records import DEFERRED, INVALID_PAYLOAD, ClaimedJob, Outcome

if TYPE_CHECKING:
    from pjobs.store import Store
    from pjobs.timeutil import Clock

ContextFactory = Callable[[ClaimedJob], JobContext]
log = logging.getLogger("pjobs.worker")


def result_json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def ended(
    job: ClaimedJob,
    state: Literal["succeeded", "queued", "failed"],
    started: datetime,
    finished: datetime,
    error: str | None = None,
    trace: str | None = None,
    **fields: Any,
) -> Outcome:
    """How an attempt of `job` ended: its next state (queued: tried again at `run_at`)."""
    return Outcome(
        job.id, job.attempt, state, started, finished, error=error, traceback=trace, **fields
    )


def run_attempt(
    job: ClaimedJob,
    registry: Registry,
    context_for: ContextFactory,
    clock: Clock,
    rng: random.Random | None = None,
    preloaded: Any = None,
    started: datetime | None = None,
) -> Outcome:
    """Run one attempt of a claimed job and say how it ended (never raises Exception);
    `preloaded`: what its type's preload read for it (`Preloads`); `started`: when it
    started, if the caller read the clock for it (else now)."""
    started = started or clock.now()
    context: JobContext | None = None

    def failed(
        error: str, retry_in: float | None, trace: str | None = None, result: str | None = None
    ) -> Outcome:
        return _failed(job, clock, started, context, error, retry_in, trace, result)

    job_type = registry.find(job.type)
    if job_type is None:
        return failed(f"unknown job type {job.type!r}: no handler is registered here", None)
    try:
        payload = job_type.payload.model_validate_json(job.payload_json)
    except ValidationError as exc:
        subject = f"{INVALID_PAYLOAD} for {job.type}:"
        return failed(describe_validation_error(exc, subject, "(payload)"), None)
    try:
        context = context_for(job)
        context.preloaded = preloaded
        value = job_type.handler(payload, context)
        result = result_json(value)
        if context.revealed:  # kept for whoever enqueued it through the API, if anyone
            context.with_outcome(kept_for_who_asked(job.id, context.revealed))
    except PermanentFailure as exc:
        if exc.exit_code is not None:  # a refusal: the reason is enough, and it has its code
            return failed(f"{exc}", None, None, json.dumps({"exit_code": exc.exit_code}))
        return failed(f"{exc}", None, traceback.format_exc())
    except Deferred as exc:
        finished = clock.now()
        run_at = finished + timedelta(seconds=exc.seconds)
        return ended(job, "queued", started, finished, f"{exc}", run_at=run_at, history=DEFERRED)
    except RetryAfter as exc:
        return failed(f"{exc}", exc.seconds, traceback.format_exc())
    except ConfigError as exc:  # a setting is wrong: trying again cannot help (exit 78)
        return failed(f"{exc}", None, None, json.dumps({"exit_code": int(exc.exit_code)}))
    except Exception as exc:
        delay = job_type.retry.delay(job.attempt, rng)
        return failed(f"{type(exc).__name__}: {exc}", delay, traceback.format_exc())
    if writes := _writes(context):
        return ended(job, "succeeded", started, clock.now(), result=result, **writes)
    return Outcome(job.id, job.attempt, "succeeded", started, clock.now(), result)


def _writes(context: JobContext | None) -> dict[str, Any]:
    """What the attempt asked to write with its outcome, as the Outcome's fields."""
    if context is None or not (context.outcome_writes or context.outcome_rows):
        return {}
    return {"writes": context.writes_with_outcome(), "rows": context.rows_with_outcome()}


def _failed(
    job: ClaimedJob,
    clock: Clock,
    started: datetime,
    context: JobContext | None,
    error: str,
    retry_in: float | None,
    trace: str | None = None,
    result: str | None = None,
) -> Outcome:
    """An attempt that failed: queued again in `retry_in` seconds while it has attempts
    left (None: never), else failed."""
    finished = clock.now()
    # what is stored with the job never carries a secret this process knows
    error, trace = redact(error), None if trace is None else redact(trace)
    fields = _writes(context)
    if retry_in is not None and job.attempt < job.max_attempts:
        run_at = finished + timedelta(seconds=retry_in)
        return ended(job, "queued", started, finished, error, trace, run_at=run_at, **fields)
    return ended(job, "failed", started, finished, error, trace, result=result, **fields)


class Preloads:
    """What job types' preloads (`JobType.preload`) read for the jobs a worker claimed, each
    kept until its attempt starts. An attempt that starts more than `FRESH_SECONDS` after
    its claim gets nothing and reads for itself: what was read may have changed since."""

    FRESH_SECONDS = 1.0

    def __init__(self, registry: Registry, store: Store, clock: Clock) -> None:
        self.registry, self.store, self.clock = registry, store, clock
        self._read: dict[int, tuple[float, Any]] = {}  # by job id: (when, what)

    def read(self, jobs: Sequence[ClaimedJob]) -> None:
        """Read for these jobs, just claimed: one query a job type, however many jobs. A
        preload that fails is logged, and the attempts it was for read for themselves."""
        by_preload: dict[Preload, list[ClaimedJob]] = {}
        for job in jobs:
            job_type = self.registry.find(job.type)
            if job_type is not None and job_type.preload is not None:
                by_preload.setdefault(job_type.preload, []).append(job)
        if not by_preload:
            return
        from pjobs.control import ControlPlane

        now = time.monotonic()
        for preload, group in by_preload.items():
            try:
                with ControlPlane(self.store).tx(self.clock.now(), write=False) as tx:
                    values = preload(tx, [job.payload for job in group])
                read = {job.id: (now, value) for job, value in zip(group, values, strict=True)}
            except Exception as exc:  # a value a job, or none at all
                log.warning("preloading for %d job(s) failed: %s", len(group), exc)
                continue
            self._read.update(read)

    def take(self, job_id: int) -> Any:
        """What was read for the job, if recently enough (else None); once."""
        if not self._read:
            return None
        when, value = self._read.pop(job_id, (0.0, None))
        return value if time.monotonic() - when <= self.FRESH_SECONDS else None


def time_limit(job: ClaimedJob, registry: Registry, default: float | None) -> float | None:
    """How long an attempt of this job may run: its own limit, its type's, else `default`."""
    job_type = registry.find(job.type)
    return job.time_limit or (job_type.time_limit if job_type else None) or default


def timed_out(
    job: ClaimedJob,
    registry: Registry,
    started: datetime,
    finished: datetime,
    limit: float,
    rng: random.Random | None = None,
) -> Outcome:
    """The outcome of an attempt given up on past its time limit: retried per its type's
    policy, or failed; `timed_out` in its history."""
    error = f"timed out after {limit:g}s (time limit)"
    job_type = registry.find(job.type)
    if job_type is not None and job.attempt < job.max_attempts:
        run_at = finished + timedelta(seconds=job_type.retry.delay(job.attempt, rng))
        return ended(job, "queued", started, finished, error, run_at=run_at, history="timed_out")
    return ended(job, "failed", started, finished, error, history="timed_out")


def run_limited(
    job: ClaimedJob,
    registry: Registry,
    context_for: ContextFactory,
    clock: Clock,
    limit: float | None,
) -> Outcome:
    """`run_attempt`, given up on after `limit` seconds: the attempt's thread cannot be
    stopped, so it is left to end by itself and its outcome is not recorded."""
    if limit is None:
        return run_attempt(job, registry, context_for, clock)
    import threading

    started = clock.now()
    ended: list[Outcome] = []
    thread = threading.Thread(
        target=lambda: ended.append(run_attempt(job, registry, context_for, clock)),
        name=f"pjobs-attempt-{job.id}",
        daemon=True,
    )
    thread.start()
    thread.join(limit)
    return ended[0] if ended else timed_out(job, registry, started, clock.now(), limit)
