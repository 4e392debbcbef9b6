"""The control plane: owners, projects, API keys, the audit trail, the notification
outbox (and each noun that joins them), over the Store. Every operation runs on one
transaction, so a handler changes several records, and enqueues the jobs that follow
from them, atomically:

    with ControlPlane(store).tx(now) as tx:
        tx.projects.set_status(project_id, "suspended")
        tx.audit.append(actor, "project.suspended", project_id)
        tx.jobs.enqueue(follow_up_jobs)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from pjobs.control.tx import ControlTx

if TYPE_CHECKING:
    from pjobs.store import Store

__all__ = ["ControlPlane", "ControlTx"]


class ControlPlane:
    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def tx(self, now: datetime, write: bool = True) -> Iterator[ControlTx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.store.transaction(write) as cursor:
            yield ControlTx(self.store, cursor, now)

    @contextmanager
    def rehearsal(self, now: datetime) -> Iterator[ControlTx]:
        """A write transaction that is always rolled back: a dry run does exactly what the
        real run would, and leaves the database as it found it."""
        try:
            with self.tx(now) as tx:
                yield tx
                raise _Rehearsed
        except _Rehearsed:
            pass


class _Rehearsed(Exception):
    """Ends a rehearsal by rolling its transaction back."""
