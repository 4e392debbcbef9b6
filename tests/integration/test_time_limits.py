"""Time limits and interrupted attempts, on both backends: an attempt past its limit is
given up on, recorded `timed_out` and retried per its policy, without stopping the worker
or letting its late result count; one a stopping worker cannot wait for is recorded
`interrupted` and counts, so a job that never ends reaches `failed`."""

from __future__ import annotations

import threading
import time

from pjobs.queue.enqueue import EnqueueOptions
from pjobs.queue.jobqueue import JobQueue
from pjobs.queue.worker import Worker
from support.waiting import until, worker_for


def outcomes(queue: JobQueue, job_id: int) -> list[str]:
    return [a.outcome for a in queue.store.job_attempts(job_id)]


def test_an_attempt_past_its_time_limit_is_given_up_on_and_the_worker_goes_on(
    job_queue: JobQueue,
) -> None:
    hung = job_queue.enqueue(
        "noop", {"sleep_seconds": 3}, EnqueueOptions(time_limit=1, max_attempts=1)
    )
    after = job_queue.enqueue("noop", {})
    worker = worker_for(job_queue, concurrency=1)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        until(lambda: job_queue.get(hung.id).state == "failed")
        assert "timed out after 1s" in (job_queue.get(hung.id).last_error or "")
        # the one runner is stuck in the hung handler: a new runner takes the next job
        # before that handler ends (at 3 s)
        until(lambda: job_queue.get(after.id).state == "succeeded", seconds=1.5)
        hung_runner = worker._runners[0]
        until(lambda: not hung_runner.is_alive(), seconds=10)  # it ended, and retired
        job = job_queue.get(hung.id)  # its late outcome did not count
        assert job.state == "failed" and outcomes(job_queue, hung.id) == ["timed_out"]
    finally:
        worker.stop()
        thread.join(10)


def test_a_timed_out_attempt_is_retried_per_its_policy(job_queue: JobQueue) -> None:
    hung = job_queue.enqueue(
        "noop", {"sleep_seconds": 3}, EnqueueOptions(time_limit=1, max_attempts=2)
    )
    record = job_queue.run_queued(hung.id)
    assert record.state == "failed" and record.attempts == 2
    assert outcomes(job_queue, hung.id) == ["timed_out", "timed_out"]


def test_an_inline_run_is_given_up_on_at_its_time_limit(job_queue: JobQueue) -> None:
    started = time.monotonic()
    record = job_queue.run_inline(
        "noop", {"sleep_seconds": 5}, EnqueueOptions(time_limit=1, max_attempts=1)
    )
    assert time.monotonic() - started < 3
    assert record.state == "failed" and outcomes(job_queue, record.id) == ["timed_out"]


def test_a_stopping_worker_records_what_it_interrupts(job_queue: JobQueue) -> None:
    settings = job_queue.settings.with_groups(
        worker=job_queue.settings.worker.model_copy(update={"shutdown_timeout": 0.2})
    )
    once = job_queue.enqueue("noop", {"sleep_seconds": 5}, EnqueueOptions(max_attempts=1))
    twice = job_queue.enqueue("noop", {"sleep_seconds": 5}, EnqueueOptions(max_attempts=2))
    worker = Worker(
        job_queue.store, job_queue.registry, settings, job_queue.context_for, job_queue.clock,
        concurrency=2,
    )  # fmt: skip
    thread = threading.Thread(target=worker.run)
    thread.start()
    # both attempts under way in their runners (a claimed job not yet started is released)
    until(lambda: len(worker._running) == 2)
    worker.stop()
    thread.join(10)
    assert job_queue.get(once.id).state == "failed"  # its one attempt was used up
    again = job_queue.get(twice.id)
    assert again.state == "queued" and again.attempts == 1
    assert outcomes(job_queue, once.id) == outcomes(job_queue, twice.id) == ["interrupted"]
