"""`pjobs serve`: claim due jobs in batches, run them on a bounded pool of threads,
acknowledge in batches, keep leases alive, and rescue jobs whose worker died.

The worker knows nothing of SQL: every database call goes through the Store.
"""

from __future__ import annotations

import logging
import queue as queue_module
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from pjobs.errors import PjobsError, UnavailableError
from pjobs.queue.attempt import ContextFactory, Preloads, run_attempt, time_limit, timed_out
from pjobs.queue.jobtypes import Registry
from pjobs.queue.leases import Faults, LeaseKeeper, new_worker_id, rescue
from pjobs.store.outcomes import encoded
from pjobs.store.records import DEFERRED, Claim, ClaimedJob, Outcome

if TYPE_CHECKING:
    from pjobs.settings.config import Settings
    from pjobs.store import Store
    from pjobs.timeutil import Clock

log = logging.getLogger("pjobs.worker")
MAX_PAUSE = 30.0  # seconds between tries while a fault lasts
# jobs done since the last maintenance that make an idle moment worth one (its checks act
# on thousands of changed rows; a trickle of jobs waits for the periodic one)
IDLE_MAINTENANCE_JOBS = 1000


class Prefetch:
    """How many jobs a worker claims beyond its concurrency: the setting when set; else
    what it finished in the last quarter of a second (a moving average), so that a queue of
    quick jobs is claimed in whole batches while slow jobs are left to other workers, at
    least `LEAST` and at most two batches."""

    LEAST = 10
    WINDOW = 0.25  # seconds of work held beyond the running jobs
    MEASURE = 0.05  # seconds over which the rate is measured

    def __init__(
        self,
        fixed: int | None,
        batch_size: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fixed, self.most = fixed, max(2 * batch_size, self.LEAST)
        self._monotonic = monotonic
        self._rate: float | None = None  # jobs finished a second
        self._since = monotonic()
        self._finished = 0

    def finished(self, count: int) -> None:
        self._finished += count
        now = self._monotonic()
        if now - self._since >= self.MEASURE:
            rate = self._finished / (now - self._since)
            self._rate = rate if self._rate is None else (self._rate + rate) / 2
            self._since, self._finished = now, 0

    @property
    def jobs(self) -> int:
        if self.fixed is not None:
            return self.fixed
        rate = self._rate or 0.0
        return min(max(int(rate * self.WINDOW), self.LEAST), self.most)


class Observer(Protocol):
    """What the worker reports to (the metrics of `serve --http`)."""

    def attempt(self, job: ClaimedJob, outcome: Outcome) -> None: ...

    def rescued(self, count: int) -> None: ...


_STOP = None  # the sentinel that ends a runner thread


@dataclass
class Running:
    """An attempt under way on a runner thread."""

    job: ClaimedJob
    started: datetime
    since: float  # time.monotonic() when it started
    limit: float | None  # seconds it may run
    retired: threading.Event  # its runner's: set when the attempt is given up on


class Worker:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        settings: Settings,
        context_for: ContextFactory,
        clock: Clock,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
        observer: Observer | None = None,
    ) -> None:
        self.store, self.registry, self.settings = store, registry, settings
        self.context_for, self.clock = context_for, clock
        self.queues = list(queues) if queues else None
        self.concurrency = concurrency or settings.worker.concurrency
        self.burst = burst
        self.observer = observer  # metrics: every attempt, every rescue
        self.worker_id = new_worker_id()
        self._stopping = threading.Event()
        self._deadline: float | None = None
        self._inbox: queue_module.SimpleQueue[ClaimedJob | None] = queue_module.SimpleQueue()
        # Finished attempts; a None wakes the main loop (stop requested).
        self._outbox: queue_module.SimpleQueue[Outcome | None] = queue_module.SimpleQueue()
        self._held: dict[int, ClaimedJob] = {}  # claimed and not yet acknowledged
        self._prefetch = Prefetch(settings.worker.prefetch, settings.worker.batch_size)
        self._preloads = Preloads(registry, store, clock)  # read for claimed jobs
        self._unacknowledged: list[Outcome] = []
        self.processed = 0
        self.failed = 0  # attempts that ended their job as failed
        self._faults: dict[str, Faults] = {}  # by step, while its faults last
        self._runners: list[threading.Thread] = []
        self._running: dict[int, Running] = {}  # attempts under way, by job id
        self._running_lock = threading.Lock()
        self._pause = settings.worker.poll_interval  # after a fault; doubles while they last
        self._claiming = True  # false while the heartbeat cannot renew leases
        self._maintaining: threading.Thread | None = None  # `_maintain`, while it runs
        self._maintained_after = 0  # `processed` when maintenance last started

    # -- control --------------------------------------------------------------------------

    def stop(self, force: bool = False) -> None:
        """Stop claiming; running jobs get `shutdown_timeout` (none when forced)."""
        if force or self._stopping.is_set():
            self._deadline = time.monotonic()
        self._stopping.set()
        self._outbox.put(None)

    def run(self) -> None:
        """Work until stopped (or, with burst, until nothing is due)."""
        cfg = self.settings.worker
        for _ in range(self.concurrency):
            self._start_runner()
        log.info(
            "worker %s started: concurrency %d, queues %s",
            self.worker_id,
            self.concurrency,
            ", ".join(self.queues or ["all"]),
        )
        # a worker that serves says it is alive (the dashboard's); a burst comes and goes
        # without a write more
        announce = not self.burst
        keeper = LeaseKeeper(self.store, self.worker_id, self.settings, self.clock, announce)
        with keeper as leases:
            next_rescue = 0.0
            while not self._stopping.is_set():
                healthy = self._heartbeat_healthy(leases)
                if healthy and time.monotonic() >= next_rescue:
                    self._guarded("rescuing expired leases", self._rescue)
                    next_rescue = time.monotonic() + cfg.rescue_interval
                self._collect(block=False)
                self._enforce_time_limits()
                claimed = self._guarded(
                    "recording outcomes and claiming jobs",
                    partial(self._turn, leases.lease_expiry(), claiming=healthy),
                )
                if claimed is None or claimed:  # None: a fault, waited out; try again
                    continue
                if not healthy:
                    self._collect(block=True, timeout=cfg.poll_interval)
                elif self._held:
                    self._collect(block=True, timeout=cfg.poll_interval)
                elif self.burst and not self._unacknowledged:
                    break
                else:
                    if self.processed - self._maintained_after >= IDLE_MAINTENANCE_JOBS:
                        self._start_maintenance()  # idle after a drain: a quiet moment
                    self._guarded(
                        "waiting for jobs",
                        lambda: self.store.wait_for("jobs", cfg.poll_interval, self._stopping),
                    )
            self._shutdown(self._runners)
        if self.burst and not self._stopping.is_set():  # drained, not stopped: it leaves
            # the jobs maintained, for what it started and for what it did (the next drain
            # would otherwise step over the dead rows of this one, and wait on its ANALYZE)
            if self._maintaining is not None:
                self._maintaining.join()
            if self.processed > self._maintained_after:
                self._maintain()
        log.info("worker %s stopped after %d jobs", self.worker_id, self.processed)

    # -- the loop's steps -----------------------------------------------------------------

    def _guarded(self, doing: str, step: Callable[[], Any]) -> Any:
        """Run a step of the loop; on any fault, log it, wait (longer each time, up to
        MAX_PAUSE) and let the loop try again. A fault that lasts longer than
        `worker.max_outage_seconds` stops the worker with it (serve exits 69 or 75)."""
        try:
            result = step()
        except Exception as exc:
            faults = self._faults.setdefault(doing, Faults(doing))
            lasted = faults.record(exc)
            if lasted > self.settings.worker.max_outage_seconds:
                log.error("giving up after %.0fs of faults", lasted)
                if isinstance(exc, PjobsError):
                    raise
                what = f"{type(exc).__name__}: {exc}"
                raise UnavailableError(f"the worker loop kept failing: {what}") from exc
            self._stopping.wait(self._pause)
            self._pause = min(self._pause * 2, MAX_PAUSE)
            return None
        if doing in self._faults:
            self._faults.pop(doing).clear()
            self._pause = self.settings.worker.poll_interval
        return result

    def _heartbeat_healthy(self, leases: LeaseKeeper) -> bool:
        """Whether the heartbeat renews this worker's leases; logged when that changes."""
        healthy = leases.healthy
        if healthy != self._claiming:
            self._claiming = healthy
            if healthy:
                log.warning("leases renew again: claiming and rescuing again")
            else:
                log.warning("leases cannot be renewed: no claiming or rescuing until they are")
        return healthy

    def _turn(self, lease_expires_at: datetime, claiming: bool = True) -> int:
        """Record the attempts that ended and claim what there is room for (when
        `claiming`), on one transaction; returns how many jobs were claimed."""
        batch = self._unacknowledged
        prefetch = self._prefetch.jobs
        room = self.concurrency + prefetch - len(self._held) + len(batch)
        if room <= 0 or not claiming:
            self._acknowledge()
            return 0
        if room < prefetch // 2 and self._inbox.qsize() > self.concurrency:
            return 0  # the runners have work: claim (and record) in bigger turns
        limit = min(room, self.settings.worker.batch_size)
        claim = Claim(self.queues, limit, self.clock.now(), lease_expires_at)
        acknowledged, jobs = self.store.acknowledge_and_claim(self.worker_id, batch, claim)
        self._acknowledged(batch, acknowledged)
        jobs = self._not_held(jobs)
        self._preloads.read(jobs)
        for job in jobs:
            self._held[job.id] = job
            self._inbox.put(job)
        return len(jobs)

    def _not_held(self, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        """The claimed jobs this worker does not hold already. A job it still runs can be
        queued again behind its back: its claim lost in the server's crash (a claim does
        not wait for the disk), or swept by another worker while this one could not renew
        its lease. Claimed again for the attempt that runs here, it is left to that attempt,
        whose outcome is the claim's; claimed for another, it is given back, to be claimed
        once the attempt that runs here ended (one attempt of a job at a time here)."""
        held = [job for job in jobs if job.id in self._held]
        if not held:
            return jobs
        stale = [job.id for job in held if self._held[job.id].attempt != job.attempt]
        log.warning(
            "job(s) %s: claimed again while running here; %s",
            ", ".join(str(job.id) for job in held),
            f"{len(stale)} given back" if stale else "left to the attempts that run",
        )
        if stale:
            self._guarded("releasing jobs", lambda: self.store.release(self.worker_id, stale))
        return [job for job in jobs if job.id not in self._held]

    def _start_runner(self) -> None:
        runner = threading.Thread(
            target=self._run_jobs, name=f"pjobs-runner-{len(self._runners)}", daemon=True
        )
        self._runners.append(runner)
        runner.start()

    def _run_jobs(self) -> None:
        retired = threading.Event()  # set when this runner's attempt is given up on
        default = self.settings.worker.time_limit_seconds
        while not retired.is_set():
            job = self._inbox.get()
            if job is _STOP:
                return
            limit = time_limit(job, self.registry, default)
            started = self.clock.now()
            running = Running(job, started, time.monotonic(), limit, retired)
            with self._running_lock:
                self._running[job.id] = running
            log.debug("job %d (%s) attempt %d started", job.id, job.type, job.attempt)
            preloaded = self._preloads.take(job.id)
            attempt = run_attempt(
                job, self.registry, self.context_for, self.clock, None, preloaded, started
            )
            outcome = encoded(self.store, attempt)
            with self._running_lock:
                mine = self._running.pop(job.id, None) is running
            if mine:  # else it was given up on: its outcome is recorded already
                self._outbox.put(outcome)

    def _enforce_time_limits(self) -> None:
        """Give up on attempts past their time limit: each is recorded `timed_out` and
        retried per its policy; its runner is retired (it ends when the handler returns,
        its outcome unrecorded) and a new one takes its place."""
        now = time.monotonic()
        with self._running_lock:
            late = [
                r for r in self._running.values() if r.limit is not None and now - r.since > r.limit
            ]
            for running in late:
                del self._running[running.job.id]
        for running in late:
            running.retired.set()
            assert running.limit is not None
            log.warning(
                "job %d attempt %d: over its time limit of %gs; given up on",
                running.job.id,
                running.job.attempt,
                running.limit,
            )
            outcome = timed_out(
                running.job, self.registry, running.started, self.clock.now(), running.limit
            )
            self._unacknowledged.append(outcome)
            self._start_runner()

    def _collect(self, block: bool, timeout: float = 0.0) -> None:
        """Move finished attempts from the runners into the acknowledgement batch."""
        with suppress(queue_module.Empty):
            outcome = self._outbox.get(timeout=timeout) if block else self._outbox.get_nowait()
            while True:
                if outcome is not None:
                    self._unacknowledged.append(outcome)
                outcome = self._outbox.get_nowait()

    def _acknowledge(self) -> None:
        if batch := self._unacknowledged:
            self._acknowledged(batch, self.store.acknowledge(self.worker_id, batch))

    def _acknowledged(self, batch: list[Outcome], acknowledged: set[int]) -> None:
        """Bookkeeping once a batch of outcomes is recorded (`acknowledged`: those whose
        jobs this worker still held)."""
        for outcome in batch:
            job = self._held.pop(outcome.job_id, None)
            if outcome.job_id not in acknowledged:
                log.warning("job %d: lease was lost before its outcome was saved", outcome.job_id)
                continue
            if outcome.history == DEFERRED:
                log.debug("job %d: deferred: %s", outcome.job_id, outcome.error)
            elif outcome.state != "succeeded":
                log.warning("job %d attempt %d: %s", outcome.job_id, outcome.attempt, outcome.error)
                self.failed += outcome.state == "failed"
            if self.observer is not None and job is not None:
                self.observer.attempt(job, outcome)
        self.processed += len(batch)
        self._prefetch.finished(len(batch))
        self._unacknowledged = []

    def _rescue(self) -> None:
        self._start_maintenance()  # as often
        rescued = rescue(self.store, self.settings, self.clock, spare=self.worker_id)
        if rescued:
            log.warning("rescued %d job(s) whose worker stopped renewing its lease", rescued)
            if self.observer is not None:
                self.observer.rescued(rescued)

    def _start_maintenance(self) -> None:
        if self._maintaining is None or not self._maintaining.is_alive():
            self._maintained_after = self.processed
            self._maintaining = threading.Thread(
                target=self._maintain, name="pjobs-maintain", daemon=True
            )
            self._maintaining.start()

    def _maintain(self) -> None:
        """The store's maintenance of the jobs, on a thread of its own: their statistics,
        then the space of those that finished. After a million jobs, a VACUUM takes more
        than half a second, which the loop would otherwise wait out. A fault is logged,
        and tried next time."""
        steps = (
            ("refreshing the jobs' statistics", self.store.refresh_statistics),
            ("reclaiming the space of finished jobs", self.store.reclaim_finished),
        )
        for doing, step in steps:
            try:
                step()
            except Exception as exc:
                log.warning("%s failed: %s", doing, exc)

    def _shutdown(self, runners: list[threading.Thread]) -> None:
        """Release what never started, give running jobs until the deadline, release the rest."""
        unstarted: list[int] = []
        with suppress(queue_module.Empty):
            while True:
                job = self._inbox.get_nowait()
                if job is not None:
                    unstarted.append(job.id)
        for _ in runners:
            self._inbox.put(_STOP)
        if unstarted:
            self._guarded("releasing jobs", lambda: self.store.release(self.worker_id, unstarted))
            for job_id in unstarted:
                self._held.pop(job_id, None)
        if self._deadline is None:
            self._deadline = time.monotonic() + self.settings.worker.shutdown_timeout
        while self._held and time.monotonic() < self._deadline:
            self._collect(block=True, timeout=min(0.2, max(self._deadline - time.monotonic(), 0)))
            self._enforce_time_limits()
            self._guarded("recording outcomes", self._acknowledge)
        self._collect(block=False)
        self._guarded("recording outcomes", self._acknowledge)
        if self._held:
            log.warning("interrupting %d job(s) still running at the deadline", len(self._held))
            still_running = list(self._held)
            error = "interrupted: the worker stopped before the attempt ended"
            self._guarded(
                "interrupting jobs",
                lambda: self.store.interrupt(
                    self.worker_id, still_running, self.clock.now(), error
                ),
            )
