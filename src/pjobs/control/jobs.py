"""Jobs enqueued on the control plane's transaction: a change and the jobs that follow
from it (an event and its deliveries, a check and the suspension it triggers) commit
together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pjobs.control.noun import Noun

if TYPE_CHECKING:
    from pjobs.store.records import EnqueueResult, JobFilter, JobRecord, NewJob


class JobsOnTx(Noun):
    def get(self, job_id: int) -> JobRecord | None:
        """A job, as this transaction sees it."""
        from pjobs.store.records import JobRecord

        return self.tx.record(JobRecord, "get_job", id=job_id)

    def of_project(self, project_id: str, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        """The jobs whose payload names the project, newest first."""
        from pjobs.store.records import JobRecord

        return self.tx.records(
            JobRecord, "jobs_of_project", project_id=project_id, limit=limit, offset=offset
        )

    def matching(self, found: JobFilter, before: int | None, limit: int) -> list[JobRecord]:
        """A page of the jobs a filter matches, newest first, with ids below `before`."""
        from pjobs.store.records import JobRecord

        return self.tx.records(
            JobRecord, "matching_jobs", **_filter(found), before=before, limit=limit
        )

    def count_matching(self, found: JobFilter) -> int:
        row = self.tx.row("count_matching_jobs", **_filter(found))
        return int(row["count"]) if row else 0

    def retry_matching(self, found: JobFilter) -> list[int]:
        """Queue again the failed or cancelled jobs a filter matches; their ids."""
        return sorted(int(r["id"]) for r in self.tx.rows("retry_matching_jobs", **_filter(found)))

    def cancel_matching(self, found: JobFilter) -> list[int]:
        """Cancel the queued jobs a filter matches; their ids."""
        return sorted(int(r["id"]) for r in self.tx.rows("cancel_matching_jobs", **_filter(found)))

    def set_reveal_to(self, job_id: int, public_key: str) -> None:
        """Keep what the job reveals for the holder of this key (`queue.reveal`)."""
        self.tx.run("set_reveal_to", id=job_id, public_key=public_key)

    def reveal_to(self, job_id: int) -> str | None:
        row = self.tx.row("reveal_to_of", id=job_id)
        return None if row is None else row["reveal_to"]

    def keep_reveal(self, job_id: int, sealed: str) -> None:
        self.tx.run("keep_reveal", id=job_id, sealed=sealed)

    def take_reveal(self, job_id: int) -> str | None:
        """What the job revealed, sealed; deleted as it is read (handed out once)."""
        row = self.tx.row("take_reveal", id=job_id)
        return None if row is None else row["sealed"]

    def enqueue(self, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        """Insert validated jobs (`enqueue.prepare_jobs`) on this transaction."""
        return self.tx.store.enqueue_on(self.tx.cursor, jobs, self.tx.now)


def _filter(found: JobFilter) -> dict[str, object]:
    """A filter as the queries' parameters (`job_filter`)."""
    return {
        "state": found.state,
        "type": found.type,
        "queue": found.queue,
        "project": found.project,
        "since": found.since,
    }
