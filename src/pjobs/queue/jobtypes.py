"""Job types: a payload model, a handler and a retry policy under one name, the registry
that holds them, and what a handler raises to say how its attempt ended. The context a
handler runs with is `pjobs.queue.context`; where types come from (built in, plugins) is
`pjobs.queue.plugins`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pjobs.errors import ConfigError, InvalidInputError
from pjobs.queue.retry import ONE_SHOT, RetryPolicy

if TYPE_CHECKING:
    from datetime import datetime

    from pjobs.control import ControlTx
    from pjobs.queue.context import JobContext
    from pjobs.store import Store

# Writes the rows many attempts asked to make with their outcomes (`with_outcome_row`).
RowsWrite = Callable[["ControlTx", list[str]], None]
# Reads what the attempts of claimed jobs of one type will need, given their payloads as
# claimed (not yet checked): one value a payload, None where there is nothing to read.
Preload = Callable[["ControlTx", list[Any]], list[Any]]


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


Handler = Callable[[Any, "JobContext"], Any]


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

    def record(self, store: Store, now: datetime) -> None:
        """Record every job type (loaded all) with the defaults its jobs get, for the
        platform's own enqueues (`pjobs_enqueue` on PostgreSQL): `db upgrade`, `serve`."""
        self.load_all()
        types = [self.get(name) for name in self.names()]
        store.record_job_types([(t.name, t.queue, t.retry.max_attempts) for t in types], now)

    def load_all(self) -> None:
        """Load every job type now; here each was added already."""
