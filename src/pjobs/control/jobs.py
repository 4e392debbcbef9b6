"""Jobs enqueued on the control plane's transaction: a change and the jobs that follow
from it (an event and its deliveries, a check and the suspension it triggers) commit
together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pjobs.control.noun import Noun

if TYPE_CHECKING:
    from pjobs.store.records import EnqueueResult, NewJob


class JobsOnTx(Noun):
    def enqueue(self, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        """Insert validated jobs (`enqueue.prepare_jobs`) on this transaction."""
        return self.tx.store.enqueue_on(self.tx.cursor, jobs, self.tx.now)
