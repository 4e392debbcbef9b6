"""Recording how attempts ended, with the writes each attempt asked to make with its
outcome (`JobContext.with_outcome`, `with_outcome_row`): a worker records many outcomes on
one transaction, and a fault in one attempt's writes must never hold up the others, nor
the worker."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pjobs.store.records import Outcome

if TYPE_CHECKING:
    from pjobs.store.base import SqlStore
    from pjobs.store.records import OutcomeRow


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
    held = store.acknowledge_on(cursor, worker_id, outcomes) if outcomes else set()
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


def outcome_row(store: SqlStore, o: Outcome) -> str:
    """An outcome as a row of `acknowledge_jobs`' JSON parameter: [id, state, attempt,
    started_at, finished_at, run_at, result, error, traceback, history]. Written out by
    hand: one a job, on the hot path (a quarter of what `json.dumps` of the list costs);
    texts that may need escaping go through `json.dumps`."""
    if o.encoded is not None:
        return o.encoded
    return (
        f'[{o.job_id},"{o.state}",{o.attempt},{_time(store, o.started_at)},'
        f"{_time(store, o.finished_at)},{_time(store, o.run_at)},{_text(o.result)},"
        f"{_text(o.error)},{_text(o.traceback)},{_text(o.history)}]"
    )


def _time(store: SqlStore, value: datetime | None) -> str:
    """A time as a JSON string (ISO 8601: nothing in it to escape), or null."""
    return "null" if value is None else f'"{store.iso(value)}"'


def _text(value: str | None) -> str:
    return "null" if value is None else json.dumps(value)


def outcomes_json(store: SqlStore, outcomes: Sequence[Outcome]) -> str:
    return f"[{','.join([outcome_row(store, o) for o in outcomes])}]"


def encoded(store: SqlStore, outcome: Outcome) -> Outcome:
    """The outcome with its row made (`outcome_row`): a runner's share of recording it, so
    that the worker's loop, which records for every runner, has less to do."""
    outcome.encoded = outcome_row(store, outcome)
    return outcome


def json_row(store: SqlStore, row: Mapping[str, Any]) -> str:
    """A row as a JSON object, times as the store writes them: a row of a query's `rows`
    parameter (`ControlTx.run_rows`)."""
    return json.dumps({key: json_value(store, value) for key, value in row.items()})


def json_value(store: SqlStore, value: Any) -> Any:
    if isinstance(value, datetime):
        value = store.ts(value)
        return value.isoformat() if isinstance(value, datetime) else value
    return value
