"""The queue and the worker in this process, on both backends."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pjobs.errors import InvalidInputError, InvalidStateError, NotFoundError, TemporaryError
from pjobs.queue.enqueue import EnqueueOptions
from pjobs.queue.jobqueue import JobQueue
from support.waiting import until, worker_for


def test_unknown_type_and_bad_payloads_are_refused_and_nothing_is_written(
    job_queue: JobQueue,
) -> None:
    with pytest.raises(InvalidInputError, match="unknown job type 'nope'"):
        job_queue.enqueue("nope", {})
    with pytest.raises(
        InvalidInputError, match=r"invalid payload for shaped: count: not a whole number"
    ):
        job_queue.enqueue("shaped", {"count": "many"})
    with pytest.raises(InvalidInputError, match="count: required"):
        job_queue.enqueue("shaped", {})
    with pytest.raises(InvalidInputError, match="expected a JSON object"):
        job_queue.enqueue("noop", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="limit is"):
        job_queue.enqueue("shaped", {"count": 1, "label": "x" * 2_000_000})
    # one bad job in a batch refuses the whole batch
    with pytest.raises(InvalidInputError):
        job_queue.enqueue_many([("shaped", {"count": 1}), ("shaped", {"count": "x"})])
    assert job_queue.store.list_jobs() == []


def test_a_batch_keeps_every_column_of_its_jobs_as_given(job_queue: JobQueue) -> None:
    """The bulk path (COPY on PostgreSQL, whose text format escapes with backslashes):
    texts that need escaping, and the columns a batch's jobs share, come back as given."""
    labels = ["back\\slash", "tab\tand\nnewline\r", "\\N", "\\.", "plain", "émoji 🚀"]
    options = EnqueueOptions(
        queue="bulk", priority=3, delay=timedelta(minutes=5), max_attempts=4,
        requested_by="alice", time_limit=2.5,
    )  # fmt: skip
    results = job_queue.enqueue_many(
        [("shaped", {"count": n, "label": label}) for n, label in enumerate(labels * 2)], options
    )
    jobs = [job_queue.get(result.id) for result in results]
    assert [job.payload["label"] for job in jobs] == labels * 2
    assert [job.payload["count"] for job in jobs] == list(range(len(labels) * 2))
    for job in jobs:
        assert (job.type, job.queue, job.priority, job.max_attempts) == ("shaped", "bulk", 3, 4)
        assert (job.state, job.requested_by, job.time_limit) == ("queued", "alice", 2.5)
        assert timedelta(minutes=4) < job.run_at - job.created_at <= timedelta(minutes=5)
    assert len({(job.created_at, job.run_at) for job in jobs}) == 1


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (EnqueueOptions(queue="\udcff"), "invalid queue name: not UTF-8"),
        (EnqueueOptions(queue="a\tb"), "invalid queue name: 1 to 100 characters"),
        (EnqueueOptions(queue="q" * 101), "invalid queue name: 1 to 100 characters"),
        (EnqueueOptions(idempotency_key="\udcff"), "invalid idempotency key: not UTF-8"),
    ],
)
def test_a_queue_name_or_key_that_is_not_text_is_refused_and_nothing_is_written(
    job_queue: JobQueue, options: EnqueueOptions, refusal: str
) -> None:
    """A name the shell passed on from bytes that are not UTF-8 (a lone surrogate in
    Python) would be stored as text that can never be read back: every listing of the
    jobs would fail after it."""
    for jobs in ([("noop", {})], [("noop", {})] * 3):
        with pytest.raises(InvalidInputError, match=refusal):
            job_queue.enqueue_many(jobs, options)
    assert job_queue.store.list_jobs() == []


def test_burst_worker_runs_everything_due(job_queue: JobQueue) -> None:
    results = job_queue.enqueue_many([("shaped", {"count": n}) for n in range(300)])
    later = job_queue.enqueue(
        "noop", {}, EnqueueOptions(delay=__import__("datetime").timedelta(hours=1))
    )
    worker_for(job_queue, burst=True, concurrency=4).run()
    for result in results[:3]:
        job = job_queue.get(result.id)
        assert job.state == "succeeded" and job.result == {"doubled": job.payload["count"] * 2}
    stats = job_queue.stats()
    assert stats["states"] == {"succeeded": 300, "queued": 1}
    assert job_queue.get(later.id).state == "queued"


def test_retries_with_backoff_then_succeeds(job_queue: JobQueue, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    (result,) = job_queue.enqueue_many([("flaky", {"marker": str(marker), "fail_times": 2})])
    worker = worker_for(job_queue, concurrency=2)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        job = job_queue.wait(result.id, timeout=20)
    finally:
        worker.stop()
        thread.join(10)
    assert job.state == "succeeded" and job.attempts == 3
    attempts = job_queue.store.job_attempts(result.id)
    assert [a.outcome for a in attempts] == ["failed", "failed", "succeeded"]
    assert "flaky failure 1" in (attempts[0].error or "") and attempts[0].traceback
    assert marker.read_text().splitlines() == ["attempt 1", "attempt 2", "attempt 3"]


def test_permanent_failure_is_not_retried(job_queue: JobQueue) -> None:
    job = job_queue.run_inline("broken", {"count": 1})
    assert job.state == "failed" and job.attempts == 1
    assert "refused for good" in (job.last_error or "")


def test_inline_run_retries_in_process(job_queue: JobQueue, tmp_path: Path) -> None:
    job = job_queue.run_inline("flaky", {"marker": str(tmp_path / "m"), "fail_times": 1})
    assert (job.state, job.attempts) == ("succeeded", 2)
    exhausted = job_queue.run_inline(
        "flaky", {"marker": str(tmp_path / "n"), "fail_times": 5}, EnqueueOptions(max_attempts=2)
    )
    assert (exhausted.state, exhausted.attempts) == ("failed", 2)


def test_inline_run_with_an_active_key_waits_for_that_job(job_queue: JobQueue) -> None:
    first = job_queue.enqueue(
        "noop", {"sleep_seconds": 1.5}, EnqueueOptions(idempotency_key="once")
    )
    worker = worker_for(job_queue, burst=True)
    thread = threading.Thread(target=worker.run)
    thread.start()
    until(lambda: job_queue.get(first.id).state == "running")  # the key is held
    job = job_queue.run_inline(
        "noop", {"sleep_seconds": 1.5}, EnqueueOptions(idempotency_key="once")
    )
    assert job.id == first.id and job.state == "succeeded"
    thread.join(10)
    assert not thread.is_alive()


def test_wait_times_out_with_a_temporary_error(job_queue: JobQueue) -> None:
    result = job_queue.enqueue("noop", {})
    started = time.monotonic()
    with pytest.raises(TemporaryError, match="still queued"):
        job_queue.wait(result.id, timeout=0.3)
    assert time.monotonic() - started >= 0.3  # it waited, and then gave up


def test_operator_verbs(job_queue: JobQueue) -> None:
    with pytest.raises(NotFoundError):
        job_queue.get(12345)
    result = job_queue.enqueue("noop", {})
    assert job_queue.cancel(result.id, dry_run=True).state == "queued"
    assert job_queue.cancel(result.id).state == "cancelled"
    assert job_queue.cancel(result.id).state == "cancelled"  # cancelling twice is fine
    assert job_queue.retry(result.id).state == "queued"
    with pytest.raises(InvalidStateError, match="only failed or cancelled"):
        job_queue.retry(result.id)
    worker_for(job_queue, burst=True).run()
    with pytest.raises(InvalidStateError, match="only queued jobs"):
        job_queue.cancel(result.id)
    import datetime

    assert job_queue.purge(datetime.timedelta(0), dry_run=True) == 1
    assert job_queue.get(result.id).state == "succeeded"
    assert job_queue.purge(datetime.timedelta(0)) == 1
    with pytest.raises(NotFoundError):
        job_queue.get(result.id)


def test_stop_lets_running_jobs_finish_and_releases_the_rest(job_queue: JobQueue) -> None:
    job_queue.enqueue_many([("noop", {"sleep_seconds": 0.5})] * 6)
    worker = worker_for(job_queue, concurrency=2)
    thread = threading.Thread(target=worker.run)
    thread.start()
    until(lambda: len(worker._running) == 2)  # started, not only claimed (those are released)
    worker.stop()
    thread.join(10)
    assert not thread.is_alive()
    states = job_queue.stats()["states"]
    assert states == {"succeeded": 2, "queued": 4}
    assert all(j.attempts == 0 for j in job_queue.store.list_jobs(state="queued"))


def recorded_labels(job_queue: JobQueue) -> list[str]:
    from pjobs.control import ControlPlane

    with ControlPlane(job_queue.store).tx(job_queue.clock.now(), write=False) as tx:
        events = tx.audit.list()
    return sorted(e.target or "" for e in events if e.action == "recorded")


def test_writes_made_with_an_outcome_are_committed_with_it_and_a_bad_one_fails_its_job_only(
    job_queue: JobQueue,
) -> None:
    labels = [f"r{n}" for n in range(12)]
    results = job_queue.enqueue_many(
        [("recorded", {"label": label, "bad_write": label == "r5"}) for label in labels]
    )
    worker = worker_for(job_queue, burst=True, concurrency=4)
    worker.run()
    assert worker.processed == 12
    jobs = {job.payload["label"]: job for job in (job_queue.get(r.id) for r in results)}
    bad = jobs.pop("r5")
    assert bad.state == "failed" and bad.attempts == 1
    error = bad.last_error or ""
    assert error.startswith("recording the attempt failed") and "foreign key" in error.lower()
    assert {job.state for job in jobs.values()} == {"succeeded"}
    # the bad job's audit event went with its refused write; every other one is there
    assert recorded_labels(job_queue) == sorted(set(labels) - {"r5"})


def test_an_inline_run_makes_its_writes_with_its_outcome(job_queue: JobQueue) -> None:
    assert job_queue.run_inline("recorded", {"label": "one"}).state == "succeeded"
    failed = job_queue.run_inline("recorded", {"label": "two", "bad_write": True})
    assert failed.state == "failed" and "recording the attempt failed" in (failed.last_error or "")
    assert recorded_labels(job_queue) == ["one"]


def test_the_overview_counts_the_last_minute_and_filters_by_queue_and_type(
    job_queue: JobQueue,
) -> None:
    job_queue.enqueue_many([("noop", {})] * 3)
    job_queue.enqueue("broken", {"label": "x", "count": 1}, EnqueueOptions(queue="slow"))
    job_queue.enqueue("noop", {}, EnqueueOptions(queue="slow", delay=timedelta(hours=1)))
    worker_for(job_queue, burst=True).run()
    seen = job_queue.overview()
    assert seen["states"] == {
        "queued": 1,
        "running": 0,
        "succeeded": 3,
        "failed": 1,
        "cancelled": 0,
    }
    assert seen["last_minute"] == {"succeeded": 3, "failed": 1, "cancelled": 0}
    assert seen["queues"] == ["default", "slow"] and seen["types"] == ["broken", "noop"]
    assert [job.type for job in seen["failures"]] == ["broken"] and seen["workers"] == 0
    assert seen["oldest_due_age_seconds"] is None  # the one queued is not due
    slow = job_queue.overview(queue="slow")
    assert slow["states"]["succeeded"] == 0 and slow["states"]["queued"] == 1
    noop = job_queue.overview(type_name="noop", failures=5)
    assert noop["states"]["failed"] == 0 and noop["failures"] == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_one_job_enqueued_wakes_an_idle_worker_at_once(make_settings: Any) -> None:
    """A job enqueued alone is one statement on PostgreSQL, its NOTIFY with it: an idle
    worker (LISTEN) starts it at once, not after its poll interval."""
    from pjobs.app import App

    app = App(make_settings(worker={"poll_interval": 30.0}))
    worker = worker_for(app.queue, concurrency=1)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        until(lambda: "jobs" in app.store._listeners, what="listening")  # type: ignore[attr-defined]
        job_id = app.queue.enqueue("noop", {}).id
        done = lambda: app.queue.get(job_id).state == "succeeded"  # noqa: E731
        until(done, seconds=10, what="the job run within a third of the poll interval")
    finally:
        worker.stop()
        thread.join(10)
        app.close()
