"""Waiting on a condition with a deadline (never a fixed sleep), and a worker on a queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pjobs.queue.jobqueue import JobQueue
    from pjobs.queue.worker import Worker


def until(condition: Callable[[], Any], seconds: float = 30, what: str = "condition") -> None:
    """Return once `condition()` is true; fail the test if it is not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {seconds}s")
        time.sleep(0.02)


def worker_for(queue: JobQueue, **kwargs: Any) -> Worker:
    """A worker on the queue's store, registry, settings and clock."""
    from pjobs.queue.worker import Worker

    return Worker(
        queue.store, queue.registry, queue.settings, queue.context_for, queue.clock, **kwargs
    )
