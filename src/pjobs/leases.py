"""Leases: who holds a claimed job (a worker id), and the keeper that renews a worker's
leases on a thread of its own while its process lives."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pjobs.errors import PjobsError

if TYPE_CHECKING:
    from pjobs.config import Settings
    from pjobs.store import Store
    from pjobs.timeutil import Clock

log = logging.getLogger("pjobs.worker")


def new_worker_id(role: str = "serve") -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{role}:{secrets.token_hex(3)}"


class LeaseKeeper:
    """Renews the leases of every job a worker holds, on a thread of its own, so a long
    job or a busy loop never lets a lease lapse while its process lives."""

    def __init__(self, store: Store, worker_id: str, settings: Settings, clock: Clock) -> None:
        self._store, self._worker_id, self._clock = store, worker_id, clock
        self._lease = timedelta(seconds=settings.worker.lease_seconds)
        self._interval = settings.worker.heartbeat_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pjobs-heartbeat", daemon=True)

    def lease_expiry(self) -> Any:
        return self._clock.now() + self._lease

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._store.renew_leases(self._worker_id, self.lease_expiry())
            except PjobsError as exc:
                log.warning("could not renew leases: %s", exc)
