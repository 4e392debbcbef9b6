"""Leases: who holds a claimed job (a worker id), and the keeper that renews a worker's
leases on a thread of its own while its process lives."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pjobs.errors import PjobsError, TemporaryError, UnavailableError

if TYPE_CHECKING:
    from pjobs.settings.config import Settings
    from pjobs.store import Store
    from pjobs.timeutil import Clock

log = logging.getLogger("pjobs.worker")
T = TypeVar("T")


def new_worker_id(role: str = "serve") -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{role}:{secrets.token_hex(3)}"


# While renewals fail, the heartbeat tries again this often (at most).
RETRY_SECONDS = 1.0


def rescue(store: Store, settings: Settings, clock: Clock, spare: str | None = None) -> int:
    """Requeue (or fail) the jobs whose worker stopped renewing their lease: those whose
    lease expired more than `worker.rescue_margin_seconds` ago, never those of the worker
    `spare` (the one sweeping: it is still running its own). How many."""
    cfg = settings.worker
    margin = timedelta(seconds=cfg.rescue_margin_seconds)
    return store.rescue_expired(clock.now(), cfg.max_rescues, margin, spare)


class LeaseKeeper:
    """Renews the leases of every job a worker holds, on a thread of its own, so a long
    job or a busy loop never lets a lease lapse while its process lives. While renewals
    fail, `healthy` is false: the worker then neither claims nor rescues (a worker that
    cannot renew its own leases cannot tell a dead worker's from its own lapsing ones)."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        settings: Settings,
        clock: Clock,
        announce: bool = False,
    ) -> None:
        """`announce`: the worker also says it is alive with each heartbeat (`serve`'s,
        for the dashboard), from the first, and that it stopped when the keeper does."""
        self._store, self._worker_id, self._clock = store, worker_id, clock
        self._announce = announce
        self._lease = timedelta(seconds=settings.worker.lease_seconds)
        self._interval = settings.worker.heartbeat_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pjobs-heartbeat", daemon=True)
        self._faults = Faults("renewing leases")

    @property
    def healthy(self) -> bool:
        """Whether the last renewal succeeded (true until one fails)."""
        return self._faults.since is None

    def lease_expiry(self) -> Any:
        return self._clock.now() + self._lease

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._announce:
            gone = self._clock.now() - timedelta(days=1)
            try:
                self._store.forget_worker(self._worker_id, gone)
            except PjobsError as error:  # its row ages out: it is not seen again
                log.warning("could not say worker %s stopped: %s", self._worker_id, error)

    def _run(self) -> None:
        faults = self._faults
        alive: Callable[[], Any] = self._clock.now if self._announce else lambda: None
        wait = 0.0 if self._announce else self._interval  # an announced worker: seen at once
        while not self._stop.wait(wait):
            try:
                self._store.renew_leases(self._worker_id, self.lease_expiry(), alive())
            except Exception as exc:  # the heartbeat outlives any fault: it tries again
                faults.record(exc)
                wait = min(self._interval, RETRY_SECONDS)
            else:
                faults.clear()
                wait = self._interval


def waited_out(
    step: Callable[[], T], doing: str, max_outage: float, stop: threading.Event
) -> T | None:
    """`step`, tried again while the database is unavailable or busy (a connection cut
    while `serve` starts, say), each fault logged, for at most `max_outage` seconds; then
    its error. None if `stop` is set meanwhile."""
    faults = Faults(doing)
    pause = 0.1
    while True:
        try:
            result = step()
        except (UnavailableError, TemporaryError) as exc:
            if faults.record(exc) > max_outage:
                raise
            if stop.wait(pause):
                return None
            pause = min(pause * 2, 5.0)
            continue
        faults.clear()
        return result


class Faults:
    """The faults of one background loop: each logged when it starts (with its traceback
    the first time a kind that is not a pjobs error shows up), and how long they last."""

    def __init__(self, doing: str) -> None:
        self.doing = doing
        self.since: float | None = None  # monotonic time of the first fault in a row
        self._seen: set[str] = set()
        self._last: str | None = None

    def record(self, exc: Exception) -> float:
        """Log the fault; how many seconds faults have followed one another."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        kind = type(exc).__name__
        if isinstance(exc, PjobsError):
            if str(exc) != self._last:
                log.warning("%s: %s; trying again", self.doing, exc)
        elif kind not in self._seen:
            log.error("%s: unexpected %s: %s; trying again", self.doing, kind, exc, exc_info=exc)
        self._seen.add(kind)
        self._last = str(exc)
        return now - self.since

    def clear(self) -> None:
        if self.since is not None:
            log.warning("%s: working again", self.doing)
        self.since, self._last = None, None
