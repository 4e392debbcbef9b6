"""The plans of the queue's two hot statements on PostgreSQL. A claim reads the due jobs in
the order of their index and stops at its limit, whatever the planner's statistics say
(statistics taken before a burst of jobs once made it read and sort every queued job on
each claim, spilling to disk). An acknowledgement is planned with its ids each time, never
prepared (a generic plan searched them one by one for every running job, 7 x slower)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from pjobs.settings.config import load_settings
from pjobs.settings.dburl import database_url
from pjobs.store import Store, open_store
from pjobs.store.records import Claim, NewJob, Outcome
from pjobs.timeutil import utcnow


class Explaining:
    """A cursor that explains the claim statement before running it."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.plans: list[dict[str, Any]] = []

    def execute(self, query: str, params: Any = None) -> Any:
        if query.lstrip().startswith("UPDATE jobs"):
            self._cursor.execute(f"EXPLAIN (FORMAT JSON) {query}", params)
            self.plans.append(self._cursor.fetchone()[0][0]["Plan"])
        return self._cursor.execute(query, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def node_types(plan: dict[str, Any]) -> set[str]:
    found = {plan["Node Type"]}
    for child in plan.get("Plans", []):
        found |= node_types(child)
    return found


@pytest.fixture
def pg_store(pg_database: str, tmp_path: Any) -> Iterator[Store]:
    settings = load_settings(None, database_url=pg_database, data_dir=tmp_path)
    store = open_store(database_url(settings), pool_size=1)  # one connection: one session
    yield store
    store.close()


def queued(count: int) -> list[NewJob]:
    now = utcnow() - timedelta(seconds=1)
    job = NewJob(type="noop", payload="{}", queue="default", priority=0, max_attempts=1, run_at=now)
    return [job] * count


def test_a_claim_reads_due_jobs_in_index_order_before_any_statistics(pg_store: Store) -> None:
    """20,000 jobs enqueued into a table never analyzed (a fresh database, a first burst):
    the planner guesses a handful of due rows."""
    pg_store.enqueue(queued(20_000), utcnow())
    now = utcnow()
    claim = Claim(None, 100, now, now + timedelta(seconds=60))
    with pg_store.transaction() as cursor:
        explaining = Explaining(cursor)
        jobs = pg_store.claim_on(explaining, "w", claim)  # type: ignore[attr-defined]
    assert len(jobs) == 100
    (plan,) = explaining.plans
    assert "Sort" not in node_types(plan), json.dumps(plan, indent=1)
    assert "Index Scan" in node_types(plan)


def test_an_acknowledgement_is_never_prepared(pg_store: Store) -> None:
    """psycopg prepares a statement run five times on a connection; this one must not be."""
    pg_store.enqueue(queued(100), utcnow())
    for _ in range(10):
        now = utcnow()
        (job,) = pg_store.claim("w", None, 1, now, now + timedelta(seconds=60))
        outcome = Outcome(job.id, job.attempt, "succeeded", now, now)
        assert pg_store.acknowledge("w", [outcome]) == {job.id}
    with pg_store.transaction(write=False) as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("claim" in s or "UPDATE jobs" in s for s in prepared), prepared  # it would be
    assert not any("acknowledged AS" in statement for statement in prepared), prepared


def finish_every_job(store: Store) -> None:
    """Every job finished (a dead row each), counted where the server's statistics show."""
    with store.transaction() as cursor:
        cursor.execute("UPDATE jobs SET state = 'succeeded', finished_at = now()")
    with store.transaction() as cursor:  # the one connection's counts, flushed as it ends
        cursor.execute("SELECT pg_stat_force_next_flush()")


def vacuumed(store: Store) -> bool:
    with store.transaction(write=False) as cursor:
        cursor.execute("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'jobs'")
        (last,) = cursor.fetchone()
    return last is not None


def test_a_worker_vacuums_the_jobs_once_finished_rows_pile_up(pg_store: Store) -> None:
    pg_store.enqueue(queued(4_000), utcnow())
    finish_every_job(pg_store)  # 4,000 dead rows: fewer than 10,000
    pg_store.reclaim_finished()
    assert not vacuumed(pg_store)
    pg_store.enqueue(queued(16_000), utcnow())
    finish_every_job(pg_store)
    pg_store.reclaim_finished()
    assert vacuumed(pg_store)
