"""The job queue's machinery: job types and their registry (`jobtypes`, `plugins`), the
context a handler runs with (`context`), the one way to make a job (`enqueue`), attempts
and their retry policies (`attempt`, `retry`), the worker and its leases (`worker`,
`leases`), the schedules (`scheduler`), and the queue as commands use it (`jobqueue`).

What a plugin may import is named here (`__all__`, pinned by a test): job types, their
context and the errors a handler raises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pjobs.queue.context import JobContext
    from pjobs.queue.jobtypes import (
        Deferred,
        JobType,
        Misconfigured,
        PermanentFailure,
        Refused,
        Registry,
        RetryAfter,
    )
    from pjobs.queue.retry import ONE_SHOT, RetryPolicy

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


def __getattr__(name: str) -> Any:
    # imported when first asked for: a command that imports one module of the queue does
    # not pay for pydantic through this package
    if name == "JobContext":
        from pjobs.queue.context import JobContext

        return JobContext
    if name in ("ONE_SHOT", "RetryPolicy"):
        from pjobs.queue import retry

        return getattr(retry, name)
    if name in __all__:
        from pjobs.queue import jobtypes

        return getattr(jobtypes, name)
    raise AttributeError(f"module 'pjobs.queue' has no attribute {name!r}")
