"""The queue as the rest of pjobs uses it: enqueue validated jobs, run them inline, wait
for them, and the operator's verbs (cancel, retry, purge, stats)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pjobs.errors import InvalidStateError, JobInterrupted, NotFoundError, TemporaryError
from pjobs.queue.attempt import run_limited, time_limit
from pjobs.queue.enqueue import EnqueueOptions, prepare_jobs
from pjobs.queue.leases import LeaseKeeper, new_worker_id
from pjobs.store.records import (
    FINISHED_STATES,
    STATES,
    ClaimedJob,
    EnqueueResult,
    JobRecord,
    NewJob,
)

if TYPE_CHECKING:
    from array import array

    from pjobs.queue.context import JobContext
    from pjobs.queue.jobtypes import Registry
    from pjobs.settings.config import Settings
    from pjobs.store import Store
    from pjobs.timeutil import Clock

log = logging.getLogger("pjobs.queue")
COPY_CHUNK = 10_000


# What a handler gets for one attempt of a job, given the secrets its inline run keeps.
ContextMaker = Callable[[ClaimedJob, "dict[str, str] | None"], "JobContext"]


class JobQueue:
    """The queue as commands use it, built from its parts: the store, the job types, the
    settings, the clock, and what makes a handler's context (`App.context`)."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        settings: Settings,
        clock: Clock,
        make_context: ContextMaker,
    ) -> None:
        self.store, self.registry, self.settings, self.clock = store, registry, settings, clock
        self._make_context = make_context
        # Secrets revealed by jobs this process runs inline, by job id, to show once.
        self.revealed: dict[int, dict[str, str]] = {}
        # Jobs enqueued by jobs this process runs inline, by job id: run inline after them.
        self.followups: dict[int, list[int]] = {}

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

    def submit_copies(self, job: NewJob, count: int) -> array[int]:
        """Insert `count` copies of a validated job in one transaction, a chunk at a time
        (memory does not grow with the count); their ids, once committed."""
        from array import array

        ids = array("q")
        now = self.clock.now()
        with self.store.transaction() as cursor:
            for start in range(0, count, COPY_CHUNK):
                chunk = [job] * min(COPY_CHUNK, count - start)
                ids.extend(result.id for result in self.store.enqueue_on(cursor, chunk, now))
        return ids

    # -- run here and now -----------------------------------------------------------------

    def context_for(self, job: ClaimedJob) -> JobContext:
        # Inline runs keep what their attempts reveal and enqueue; a worker's is dropped.
        context = self._make_context(job, self.revealed.get(job.id))
        if job.id in self.followups:
            context.followups = self.followups[job.id]
        return context

    def run_inline(
        self, type_name: str, payload: Any, options: EnqueueOptions | None = None
    ) -> JobRecord:
        """Enqueue a job claimed by this process and run it to its end, retries included;
        then, if it succeeded, the jobs it enqueued (`JobContext.enqueue`), the same way.

        It is a job like any other (history, attempts, leases); if this process dies, a
        worker rescues it. A retry that a `serve` process takes first is waited for.
        """
        options = options or EnqueueOptions()
        (new,) = prepare_jobs(
            self.registry, self.settings, [(type_name, payload)], options, self.clock.now()
        )
        return self.run_prepared(new)

    def run_prepared(self, new: NewJob) -> JobRecord:
        """`run_inline` for a job `prepare_jobs` validated already (it is not again)."""
        worker_id = new_worker_id("inline")
        now = self.clock.now()
        lease = now + timedelta(seconds=self.settings.worker.lease_seconds)
        new = replace(new, worker_id=worker_id, lease_expires_at=lease)
        (result,) = self.store.enqueue([new], now)
        if not result.created:
            log.info("job %d with the same idempotency key is active; waiting for it", result.id)
            return self.wait(result.id)
        job = ClaimedJob(
            result.id,
            new.type,
            new.queue,
            new.payload,
            1,
            new.max_attempts,
            new.priority,
            new.run_at,
            now,
            new.requested_by,
            new.time_limit,
        )
        return self._run_here(job, worker_id)

    def run_queued(self, job_id: int) -> JobRecord:
        """Run a queued job in this process now (a follow-up of an inline run); if a worker
        took it first, wait for that worker instead."""
        worker_id = new_worker_id("inline")
        lease = self.clock.now() + timedelta(seconds=self.settings.worker.lease_seconds)
        job = self.store.claim_job(job_id, worker_id, self.clock.now(), lease)
        return self.wait(job_id) if job is None else self._run_here(job, worker_id)

    def _run_here(self, first: ClaimedJob, worker_id: str) -> JobRecord:
        job: ClaimedJob | None = first
        self.revealed.setdefault(first.id, {})
        followups = self.followups.setdefault(first.id, [])
        with LeaseKeeper(self.store, worker_id, self.settings, self.clock) as leases:
            while job is not None:
                limit = time_limit(job, self.registry, self.settings.worker.time_limit_seconds)
                try:
                    outcome = run_limited(job, self.registry, self.context_for, self.clock, limit)
                except KeyboardInterrupt:  # Ctrl-C: the attempt is recorded; the job stops
                    error = "interrupted: the command was stopped before the attempt ended"
                    now = self.clock.now()
                    self.store.interrupt(worker_id, [job.id], now, error, cancel=True)
                    raise JobInterrupted(job.id, job.type) from None
                except BaseException:  # the attempt is recorded, and counts
                    error = "interrupted: the command was stopped before the attempt ended"
                    self.store.interrupt(worker_id, [job.id], self.clock.now(), error)
                    raise
                self.store.acknowledge(worker_id, [outcome])
                if outcome.state != "queued" or outcome.run_at is None:
                    break
                log.warning(
                    "attempt %d of %d failed: %s; retrying at %s",
                    outcome.attempt,
                    job.max_attempts,
                    outcome.error,
                    f"{outcome.run_at:%Y-%m-%dT%H:%M:%SZ}",
                )
                followups.clear()  # what the failed attempt enqueued was rolled back
                time.sleep(max((outcome.run_at - self.clock.now()).total_seconds(), 0))
                job = self.store.claim_job(
                    first.id, worker_id, self.clock.now(), leases.lease_expiry()
                )
        record = self.wait(first.id)
        if record.state == "succeeded":
            for followup in followups:
                if self.store.get_job(followup) is not None:
                    self.run_queued(followup)
        return record

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

    def cancel(self, job_id: int, dry_run: bool = False, asked_by: str | None = None) -> JobRecord:
        """Cancel a queued job; `asked_by`: audited as theirs (job.cancelled), on the
        same transaction."""
        job = self.get(job_id)
        if job.state == "cancelled":
            return job
        if job.state != "queued":
            raise InvalidStateError(
                f"job {job_id} is {job.state}; only queued jobs can be cancelled"
            )
        if dry_run:
            return job
        now = self.clock.now()
        if self.store.cancel_job(job_id, now, self._audited(job, "job.cancelled", asked_by)):
            return self.get(job_id)
        return self.cancel(job_id, asked_by=asked_by)  # it changed meanwhile: explain

    def retry(self, job_id: int, dry_run: bool = False, asked_by: str | None = None) -> JobRecord:
        """Queue a failed or cancelled job again; `asked_by`: as `cancel`'s (job.retried)."""
        job = self.get(job_id)
        if job.state not in ("failed", "cancelled"):
            raise InvalidStateError(
                f"job {job_id} is {job.state}; only failed or cancelled jobs can be retried"
            )
        if dry_run:
            return job
        now = self.clock.now()
        if not self.store.retry_job(job_id, now, self._audited(job, "job.retried", asked_by)):
            return self.retry(job_id, asked_by=asked_by)
        return self.get(job_id)

    def retry_all(
        self,
        state: str,
        type_name: str | None,
        since: datetime | None,
        dry_run: bool = False,
        asked_by: str | None = None,
    ) -> list[int]:
        """Queue again every job in `state` (failed or cancelled) of a type (or any) that
        finished since a time (or ever); their ids. `asked_by`: audited as theirs
        (jobs.retry, with the filter and the jobs), on the same transaction."""
        matched = {"state": state, "type": type_name, "finished_since": since}

        def audit(cursor: Any, ids: list[int]) -> None:
            data = {"filter": matched, "count": len(ids), "jobs": ids[:1000]}
            self._audit(cursor, asked_by, "jobs.retry", None, None, data)

        then = audit if asked_by is not None else None
        return self.store.retry_jobs(state, type_name, since, self.clock.now(), dry_run, then)

    def _audited(
        self, job: JobRecord, action: str, asked_by: str | None
    ) -> Callable[[Any], None] | None:
        """What appends the audit event of `asked_by`'s change to a job, on its cursor."""
        if asked_by is None:
            return None
        found = job.payload.get("project_id") if isinstance(job.payload, dict) else None
        project = found if isinstance(found, str) else None
        return lambda cursor: self._audit(cursor, asked_by, action, project, f"job:{job.id}")

    def _audit(
        self,
        cursor: Any,
        actor: str | None,
        action: str,
        project_id: str | None,
        target: str | None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """An audit event on a store transaction's cursor (the change it records commits
        with it)."""
        from pjobs.control.tx import ControlTx

        assert actor is not None
        ControlTx(self.store, cursor, self.clock.now()).audit.append(
            actor, action, project_id, target, data
        )

    def purge(self, older_than: timedelta, dry_run: bool = False) -> int:
        """Delete finished jobs (and their attempts) that finished before now - older_than."""
        before = self.clock.now() - older_than
        return self.store.count_purgeable(before) if dry_run else self.store.purge_jobs(before)

    def overview(
        self, queue: str | None = None, type_name: str | None = None, failures: int = 5
    ) -> dict[str, Any]:
        """What `pjobs top` shows (of one queue, one type, or all): jobs by state, those that
        finished in the last minute, the age of the oldest due job, the workers running
        jobs, and the newest failures; with every queue and type there is."""
        now = self.clock.now()

        def kept(type_: str, queue_: str) -> bool:
            return (queue is None or queue_ == queue) and (type_name is None or type_ == type_name)

        states: dict[str, int] = dict.fromkeys(STATES, 0)
        queues, types = set(), set()
        for state, type_, queue_, count in self.store.job_counts_by_queue():
            queues.add(queue_)
            types.add(type_)
            if kept(type_, queue_):
                states[state] = states.get(state, 0) + count
        minute: dict[str, int] = {state: 0 for state in STATES if state in FINISHED_STATES}
        for state, type_, queue_, count in self.store.finished_since(now - timedelta(minutes=1)):
            if kept(type_, queue_):
                minute[state] += count
        oldest = self.store.oldest_due(now)
        failed = [
            job for job in self.store.recent_failures(failures * 20) if kept(job.type, job.queue)
        ][:failures]
        return {
            "at": now,
            "queue": queue,
            "type": type_name,
            "states": states,
            "last_minute": minute,
            "oldest_due_age_seconds": None if oldest is None else (now - oldest).total_seconds(),
            "workers": self.store.running_workers(),
            "failures": failed,
            "queues": sorted(queues),
            "types": sorted(types),
        }

    def workers_alive(self) -> list[tuple[str, datetime, datetime]]:
        """(id, started at, last seen) of each `serve` worker seen in its last three
        heartbeats' time."""
        beats = timedelta(seconds=3 * self.settings.worker.heartbeat_seconds)
        return self.store.workers_alive(self.clock.now() - beats)

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
