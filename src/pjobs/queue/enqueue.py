"""Jobs to enqueue, validated: each payload against its type's model, the options once per
batch, into rows a store inserts (on its own transaction or on the caller's)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pjobs import ids
from pjobs.errors import InvalidInputError
from pjobs.ids import describe_validation_error
from pjobs.store.records import NewJob

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.queue.jobtypes import JobType, Registry
    from pjobs.settings.config import Settings
    from pjobs.store.records import EnqueueResult

MAX_TIME_LIMIT = 7 * 86400.0
MAX_PRIORITY = 1_000_000
MAX_KEY_LENGTH = 200
MAX_QUEUE_LENGTH = 100


@dataclass(frozen=True)
class EnqueueOptions:
    queue: str | None = None  # None: the job type's own queue
    priority: int = 0
    delay: timedelta | None = None
    max_attempts: int | None = None  # None: the job type's retry policy
    idempotency_key: str | None = None
    requested_by: str | None = None  # who asked: an operator, or e.g. "schedule:check-limits"
    time_limit: float | None = None  # seconds an attempt may run; None: the type's or default


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
    if options.queue is not None:
        ids.check_text(options.queue, "queue name", MAX_QUEUE_LENGTH)
    key = options.idempotency_key
    if key is not None:
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            raise InvalidInputError(f"idempotency key must be 1 to {MAX_KEY_LENGTH} characters")
        ids.check_utf8(key, "idempotency key")
    if options.delay is not None and options.delay < timedelta(0):
        raise InvalidInputError("delay must not be negative")
    if options.requested_by is not None:
        ids.ACTOR.check(options.requested_by)
    if options.time_limit is not None and not 1 <= options.time_limit <= MAX_TIME_LIMIT:
        raise InvalidInputError(f"a time limit is 1 second to {MAX_TIME_LIMIT // 86400:.0f} days")
    run_at = now + (options.delay or timedelta(0))
    lease_expires_at = now + timedelta(seconds=settings.worker.lease_seconds) if worker_id else None
    limit = settings.max_payload_bytes
    types: dict[str, JobType] = {}
    prepared = []
    # the same payload again (`--count`: one object, a hundred thousand times) is validated
    # once a type, when the items are all at hand (a generator may change an object it
    # gave before); `last` is held, so its id is never another object's
    last: tuple[Any, JobType | None, str] = (None, None, "")
    same_again = isinstance(items, Sequence)
    for type_name, payload in items:
        job_type = types.get(type_name)
        if job_type is None:
            job_type = types[type_name] = registry.get(type_name)
        if not same_again or payload is not last[0] or job_type is not last[1]:
            last = (payload, job_type, validated_payload(job_type, payload, limit))
        prepared.append(
            NewJob(
                type_name,
                last[2],
                options.queue or job_type.queue,
                options.priority,
                options.max_attempts or job_type.retry.max_attempts,
                run_at,
                key,
                worker_id,
                lease_expires_at,
                options.requested_by,
                options.time_limit,
            )
        )
    return prepared


def enqueue_on(
    tx: ControlTx,
    registry: Registry,
    settings: Settings,
    items: Iterable[tuple[str, Any]],
    options: EnqueueOptions | None = None,
    keys: Sequence[str | None] | None = None,
) -> list[EnqueueResult]:
    """The one way a job is made: jobs validated (`prepare_jobs`) and inserted on the
    caller's transaction, so they exist if and only if it commits (the change they follow
    from, an alert recorded, a schedule's tick). `keys`: an idempotency key for each item,
    instead of the options' one; a job whose key is active already is that job instead."""
    jobs = prepare_jobs(registry, settings, items, options or EnqueueOptions(), tx.now)
    if keys is not None:
        jobs = [replace(job, idempotency_key=key) for job, key in zip(jobs, keys, strict=True)]
    return tx.jobs.enqueue(jobs)


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
    if "\\u0000" in text:  # PostgreSQL's jsonb cannot hold it; refused on both backends
        raise InvalidInputError(f"invalid payload for {job_type.name}: a string holds NUL")
    if "null" in text:  # NaN and Infinity serialise as null: refuse them, do not lose them
        try:
            json.dumps(payload, allow_nan=False, default=str)
        except ValueError:
            raise InvalidInputError(
                f"invalid payload for {job_type.name}: NaN and Infinity are not JSON numbers"
            ) from None
    return text
