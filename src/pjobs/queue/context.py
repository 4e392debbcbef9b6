"""What a handler may know and use while its attempt runs: the job it runs (id, attempt,
who asked), a transaction on the control plane (`tx`), the one way to make follow-up jobs
(`enqueue`, on the handler's own transaction), writes made with the attempt's outcome,
and the clock, settings and adapters. Domain rules (events, audit, fan-out) live in
`pjobs.domain`; a handler never reaches for globals, so tests pass a fixed clock."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pjobs.adapters import Integrations
    from pjobs.control import ControlTx
    from pjobs.domain.notifications import Notifier
    from pjobs.queue.enqueue import EnqueueOptions
    from pjobs.queue.jobtypes import Registry, RowsWrite
    from pjobs.settings.config import Settings
    from pjobs.store import Store
    from pjobs.store.records import EnqueueResult, OutcomeRow
    from pjobs.timeutil import Clock


JOB_LOG = logging.getLogger("pjobs.job")


@dataclass(slots=True)
class JobContext:
    """What a handler may use. Handlers reach for nothing else, so tests can pass fakes."""

    job_id: int
    attempt: int
    max_attempts: int
    store: Store
    clock: Clock
    settings: Settings
    registry: Registry
    integrations: Integrations
    notifier: Notifier
    # Secrets to show once to whoever runs the job inline; never stored, never logged.
    revealed: dict[str, str] = field(default_factory=dict)
    requested_by: str | None = None  # the operator or automation that enqueued the job
    # Jobs this attempt enqueued; an inline run runs them inline too, once it succeeded.
    followups: list[int] = field(default_factory=list)
    log: logging.Logger = JOB_LOG
    # What `with_outcome` and `with_outcome_row` were given, in order.
    outcome_writes: list[Callable[[ControlTx], None]] = field(default_factory=list)
    outcome_rows: list[tuple[RowsWrite, str]] = field(default_factory=list)
    # What the job type's `preload` read for this attempt with its claim, a moment ago;
    # None: nothing was (an inline run, a claim too long ago): the handler reads it itself.
    preloaded: Any = None

    @contextmanager
    def tx(self, write: bool = True) -> Iterator[ControlTx]:
        """A transaction on the control plane, at the clock's now (read-only unless
        `write`): committed when the block ends, rolled back if it raises."""
        from pjobs.control import ControlPlane

        with ControlPlane(self.store).tx(self.clock.now(), write=write) as tx:
            yield tx

    def enqueue(
        self,
        tx: ControlTx,
        type_name: str,
        payload: dict[str, Any],
        options: EnqueueOptions | None = None,
    ) -> EnqueueResult:
        """Enqueue a follow-up job on the handler's own transaction: it exists if and only
        if the change it follows from is committed."""
        return self.enqueue_many(tx, type_name, [payload], options)[0]

    def enqueue_many(
        self,
        tx: ControlTx,
        type_name: str,
        payloads: Sequence[dict[str, Any]],
        options: EnqueueOptions | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[EnqueueResult]:
        """`enqueue` for many jobs of one type, in one statement; `keys`: an idempotency
        key for each payload (a job whose key is active already is not enqueued again)."""
        from dataclasses import replace

        from pjobs.queue.enqueue import EnqueueOptions, enqueue_on

        options = options or EnqueueOptions()
        # a follow-up is asked for by whoever asked for this job
        options = replace(options, requested_by=options.requested_by or self.requested_by)
        items = [(type_name, payload) for payload in payloads]
        results = enqueue_on(tx, self.registry, self.settings, items, options, keys)
        self.followups.extend(r.id for r in results)
        return results

    def with_outcome(self, write: Callable[[ControlTx], None]) -> None:
        """Make `write` on the transaction that records how this attempt ended (after the
        handler returns or raises): it is committed if and only if the outcome is, and
        only while this attempt still holds its job. A handler whose attempt has an effect
        outside (a request sent) records it this way rather than on a transaction of its
        own: one transaction less an attempt, and a worker writes many outcomes at once."""
        self.outcome_writes.append(write)

    def with_outcome_row(self, write: RowsWrite, row: Mapping[str, Any]) -> None:
        """`with_outcome` for a write every attempt of a kind makes: `row` is written by
        one call of `write` (a module's function) with the rows of all the attempts whose
        outcomes are recorded on the same transaction, each as a JSON object (`run_rows`):
        one statement for a batch of outcomes, not one an attempt. Rows are encoded here,
        on the attempt's thread, and written before `with_outcome`'s writes."""
        from pjobs.store.outcomes import json_row

        self.outcome_rows.append((write, json_row(self.store, row)))

    def writes_with_outcome(self) -> Callable[[Any], None] | None:
        """What `with_outcome` was given, as one call on the recording transaction's cursor."""
        if not self.outcome_writes:
            return None
        writes = list(self.outcome_writes)

        def write(cursor: Any) -> None:
            tx = self._tx_on(cursor)
            for each in writes:
                each(tx)

        return write

    def rows_with_outcome(self) -> tuple[OutcomeRow, ...]:
        """What `with_outcome_row` was given, each row with its kind and how to write it."""
        from pjobs.store.records import OutcomeRow

        def writer(kind: RowsWrite) -> Callable[[Any, list[str]], None]:
            return lambda cursor, rows: kind(self._tx_on(cursor), rows)

        return tuple(OutcomeRow(kind, row, writer(kind)) for kind, row in self.outcome_rows)

    def _tx_on(self, cursor: Any) -> ControlTx:
        from pjobs.control import ControlTx

        return ControlTx(self.store, cursor, self.clock.now())

    @property
    def actor(self) -> str:
        """Who the audit trail says did it: who asked for the job (else the job itself)."""
        return self.requested_by or f"job:{self.job_id}"

    def audit(
        self,
        tx: ControlTx,
        action: str,
        project_id: str | None,
        target: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event naming who asked for this job, and the job."""
        tx.audit.append(self.actor, action, project_id, target, data, job_id=self.job_id)

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def reveal(self, label: str, secret: str) -> None:
        self.revealed[label] = secret
