"""Faults inside a running worker, on both backends: an error of any kind in a loop step
or in the heartbeat is logged, waited out and retried; it never stops the thread, and never
lets the worker's own rescue sweep take back a job it is still running."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pjobs.app import App
from pjobs.queue.worker import Worker
from pjobs.settings.config import Settings
from pjobs.store import Store
from support.waiting import until, worker_for


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


class RenewalsFailFor:
    """The store, except that lease renewals fail for `seconds` from the first one."""

    def __init__(self, store: Store, seconds: float) -> None:
        self._store, self._seconds = store, seconds
        self.since: float | None = None
        self.ended: float | None = None  # monotonic time of the first renewal after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def renew_leases(self, worker_id: str, lease_expires_at: Any, alive_at: Any = None) -> int:
        from pjobs.errors import DatabaseConflict

        now = time.monotonic()
        self.since = self.since or now
        if now - self.since < self._seconds:
            raise DatabaseConflict("canceling statement due to lock timeout")
        self.ended = self.ended or now
        return int(self._store.renew_leases(worker_id, lease_expires_at, alive_at))


def test_a_worker_whose_renewals_fail_never_rescues_its_own_job_nor_claims(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    """Renewals fail (a lock timeout on that statement only) for longer than the lease and
    its margin while every other statement works: the worker's own sweep must not take
    back the job it is running, and it claims nothing until its renewals work again."""
    from datetime import timedelta

    from pjobs.queue.enqueue import EnqueueOptions

    worker_cfg = {"lease_seconds": 1.2, "rescue_interval": 0.05, "poll_interval": 0.05}
    settings = make_settings(worker=worker_cfg)
    app = App(settings, store=store)
    (running,) = app.queue.enqueue_many([("noop", {"sleep_seconds": 3.5})])
    # due while the renewals fail: not to be claimed by a worker that cannot renew leases
    (later,) = app.queue.enqueue_many([("noop", {})], EnqueueOptions(delay=timedelta(seconds=1.0)))
    faulty = RenewalsFailFor(store, seconds=2.6)  # > lease (1.2) + margin (0.6)
    worker = Worker(faulty, app.registry, settings, app.queue.context_for, app.clock, burst=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=worker.run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert faulty.ended is not None  # the renewals did fail, then worked again
    first = app.queue.get(running.id)
    assert (first.state, first.attempts, first.rescues) == ("succeeded", 1, 0), first
    assert [a.outcome for a in store.job_attempts(running.id)] == ["succeeded"]
    second = app.queue.get(later.id)
    assert second.state == "succeeded" and second.started_at is not None
    renewed_at = app.clock.now() - timedelta(seconds=time.monotonic() - faulty.ended)
    assert second.started_at >= renewed_at - timedelta(seconds=0.2), (second, renewed_at)
    app.close()


def test_a_sweep_leaves_a_lease_that_expired_within_the_margin(store: Store) -> None:
    from datetime import timedelta

    from pjobs.store.records import NewJob
    from pjobs.timeutil import utcnow

    now = utcnow()
    job = NewJob("noop", "{}", "default", 0, 1, now)
    store.enqueue([job], now)
    store.claim("w1", None, 1, now, now - timedelta(seconds=2))
    margin = timedelta(seconds=5)
    assert store.rescue_expired(utcnow(), 5, margin) == 0  # expired 2 s ago: within it
    assert store.rescue_expired(utcnow(), 5, margin, spare="w1") == 0
    assert store.rescue_expired(utcnow() + margin, 5, margin, spare="w1") == 0  # its own
    assert store.rescue_expired(utcnow() + margin, 5, margin) == 1


def test_a_sqlite_connection_opened_while_the_file_was_read_only_is_replaced(
    tmp_path: Any,
) -> None:
    """A connection SQLite opened while the file could not be written (immutable, as
    `chattr +i` makes it) is read-only for good; once the file is writable again, the next
    transaction of that thread must work."""
    import shutil
    import subprocess

    from pjobs.errors import DatabaseReadOnly
    from pjobs.store.sqlite import SQLiteStore
    from pjobs.timeutil import utcnow

    path = tmp_path / "pjobs.db"
    store = SQLiteStore(str(path), create=True)
    store.upgrade(utcnow())
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)]).returncode != 0:
        store.close()
        pytest.skip("chattr +i is not possible here (needs root on a file system that has it)")
    results: list[object] = []

    def writes() -> None:
        for _ in range(2):
            try:
                results.append(store.renew_leases("w1", utcnow()))
            except DatabaseReadOnly as exc:
                results.append(exc)
            if len(results) == 1:
                subprocess.run([chattr, "-i", str(path)], check=True)

    try:
        thread = threading.Thread(target=writes)  # a thread whose connection is new
        thread.start()
        thread.join(30)
    finally:
        subprocess.run([chattr, "-i", str(path)])
        store.close()
    assert isinstance(results[0], DatabaseReadOnly)
    assert results[1] == 0, results


@contextmanager
def a_job_running_here(
    store: Store, make_settings: Callable[..., Settings]
) -> Iterator[tuple[App, int, Worker]]:
    """A burst worker on its own thread, running a job of a second: (app, job id, worker).
    The block ends once the worker did (it fails if that takes 20 s)."""
    app = App(make_settings(worker={"poll_interval": 0.05}), store=store)
    (job,) = app.queue.enqueue_many([("noop", {"sleep_seconds": 1.0})])
    worker = worker_for(app.queue, burst=True)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        until(lambda: app.queue.get(job.id).state == "running", what="the job started")
        yield app, job.id, worker
        thread.join(20)
        assert not thread.is_alive(), "the worker never recorded the job's outcome"
    finally:
        worker.stop(force=True)
        thread.join(10)
        app.close()


def test_a_job_this_worker_still_runs_is_not_started_again_when_it_claims_it_again(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    """A job can be queued again while this worker still runs it: its claim lost with the
    server's last moments (a claim does not wait for the disk), or swept by another worker
    while this one could not renew its lease. Claimed again by this worker for the same
    attempt, it is not started a second time beside the first: the attempt that runs is
    the claim's, and its outcome is recorded."""
    with a_job_running_here(store, make_settings) as (app, job_id, worker):
        assert store.release(worker.worker_id, [job_id]) == 1  # queued again, as if lost
        until(lambda: app.queue.get(job_id).state != "queued", what="claimed again")
    finished = store.get_job(job_id)
    assert finished is not None and (finished.state, finished.attempts) == ("succeeded", 1)
    assert [a.outcome for a in store.job_attempts(job_id)] == ["succeeded"]
    assert worker.processed == 1  # one attempt ran, not two


def test_a_job_claimed_again_for_another_attempt_waits_for_the_one_that_runs_here(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    """Queued again behind this worker's back with its attempt counted (as after another
    worker's attempt that failed and left it to retry), the job is claimed again here for
    its next attempt while the stale one still runs here. The new claim is given back, and
    the next attempt starts once the stale one ended (its outcome ignored), not beside it."""
    with a_job_running_here(store, make_settings) as (_, job_id, worker):
        with store.transaction() as cursor:  # one statement: no claim comes in between
            cursor.execute(
                "UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires_at = NULL "
                f"WHERE id = {job_id}"
            )
    finished = store.get_job(job_id)
    assert finished is not None and (finished.state, finished.attempts) == ("succeeded", 2)
    assert worker.processed == 2  # the stale attempt (ignored), then the next, in turn
