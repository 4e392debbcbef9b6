"""Faults inside a running worker, on both backends: an error of any kind in a loop step
or in the heartbeat is logged, waited out and retried; it never stops the thread, and never
lets the worker's own rescue sweep take back a job it is still running."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from pjobs.app import App
from pjobs.config import Settings
from pjobs.store import Store
from pjobs.worker import Worker


class Faulty:
    """The store, except that `method` raises `error` on its first `times` calls."""

    def __init__(self, store: Store, method: str, error: Exception, times: int) -> None:
        self._store, self._method, self._error, self._left = store, method, error, times
        self.calls = 0  # of `method`

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        if name != self._method:
            return real

        def faulty(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self._left > 0:
                self._left -= 1
                raise self._error
            return real(*args, **kwargs)

        return faulty


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    worker = {"lease_seconds": 1.5, "rescue_interval": 0.1, "poll_interval": 0.05}
    return make_settings(worker=worker)


def faulty_times(method: str) -> int:
    return 1 if method == "renew_leases" else 3


@pytest.mark.parametrize(
    ("method", "error"),
    [
        ("renew_leases", sqlite3.OperationalError("disk I/O error")),  # not a pjobs error
        ("renew_leases", RuntimeError("a bug in the heartbeat's step")),
        # a turn of the loop: record what ended, claim what there is room for
        ("acknowledge_and_claim", sqlite3.OperationalError("database is locked")),
        ("acknowledge_and_claim", ValueError("a bug in a loop step")),
    ],
    ids=["heartbeat-driver-error", "heartbeat-bug", "turn-driver-error", "turn-bug"],
)
def test_a_fault_in_a_worker_thread_is_survived(
    store: Store, settings: Settings, method: str, error: Exception
) -> None:
    app = App(settings, store=store)
    (job,) = app.queue.enqueue_many([("noop", {"sleep_seconds": 4.0})])
    # one missed renewal leaves the lease a second; a dead heartbeat lets it lapse
    faulty = Faulty(store, method, error, times=faulty_times(method))
    worker = Worker(faulty, app.registry, settings, app.queue.context_for, app.clock, burst=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=worker.run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    done = app.queue.get(job.id)
    assert done.state == "succeeded" and done.attempts == 1, done
    attempts = store.job_attempts(job.id)
    assert [a.outcome for a in attempts] == ["succeeded"]  # never taken back while running
    assert faulty.calls > faulty_times(method)  # the faults did happen, and were got past
    app.close()


def test_a_fault_that_lasts_stops_the_worker_with_its_error(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    from pjobs.errors import DatabaseUnavailable, UnavailableError

    settings = make_settings(worker={"poll_interval": 0.02, "max_outage_seconds": 0.5})
    app = App(settings, store=store)
    for error, expected in (
        (DatabaseUnavailable("the database is unavailable"), DatabaseUnavailable),
        (sqlite3.OperationalError("disk I/O error"), UnavailableError),
    ):
        faulty = Faulty(store, "acknowledge_and_claim", error, times=10**6)
        worker = Worker(faulty, app.registry, settings, app.queue.context_for, app.clock)  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(expected):
            worker.run()
        assert 0.5 <= time.monotonic() - started < 10
    app.close()
