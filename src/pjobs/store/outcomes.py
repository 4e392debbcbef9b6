"""Recording how attempts ended, with the writes each attempt asked to make with its
outcome (`JobContext.with_outcome`, `with_outcome_row`): a worker records many outcomes on
one transaction, and a fault in one attempt's writes must never hold up the others, nor
the worker."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pjobs.store.base import SqlStore
    from pjobs.store.records import Outcome, OutcomeRow


def acknowledge_outcomes(
    store: SqlStore,
    worker_id: str,
    outcomes: Sequence[Outcome],
    then: Callable[[Any], None] = lambda cursor: None,
) -> set[int]:
    """Record the outcomes and their writes on one transaction, and call `then` with its
    cursor before it commits; returns the ids this worker still held (the others' outcomes
    and writes are not recorded). Should an outcome's writes fail, the batch is recorded
    again with each outcome on a savepoint of its own, and the one whose writes fail is
    recorded failed, without them."""
    try:
        with store.transaction() as cursor:
            recorded = _with_writes(store, cursor, worker_id, outcomes)
            then(cursor)
            return recorded
    except Exception:
        if not any(outcome.has_writes for outcome in outcomes):
            raise
    held: set[int] = set()
    with store.transaction() as cursor:
        for outcome in outcomes:
            cursor.execute(store.queries["savepoint_outcome"])
            try:
                held |= _with_writes(store, cursor, worker_id, [outcome])
            except Exception as exc:
                cursor.execute(store.queries["rollback_to_outcome"])
                held |= store.acknowledge_on(cursor, worker_id, [outcome.unwritten(exc)])
            cursor.execute(store.queries["release_outcome"])
        then(cursor)
    return held


def _with_writes(
    store: SqlStore, cursor: Any, worker_id: str, outcomes: Sequence[Outcome]
) -> set[int]:
    """Record the outcomes; then, of those still held, write their rows (one call a kind
    for all of them), then make their own writes."""
    held = store.acknowledge_on(cursor, worker_id, outcomes)
    kept = [outcome for outcome in outcomes if outcome.job_id in held and outcome.has_writes]
    kinds: dict[Hashable, list[OutcomeRow]] = {}
    for outcome in kept:
        for row in outcome.rows:
            kinds.setdefault(row.kind, []).append(row)
    for rows in kinds.values():
        rows[0].write(cursor, [row.row for row in rows])
    for outcome in kept:
        if outcome.writes is not None:
            outcome.writes(cursor)
    return held
