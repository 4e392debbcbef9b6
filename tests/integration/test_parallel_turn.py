"""On PostgreSQL a worker's turn records its outcomes and claims at once, on two
connections and transactions that commit together: a fault in either leaves both undone
(never a job claimed that the worker does not know of, nor an outcome it would record
twice)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from pjobs.errors import DatabaseUnavailable
from pjobs.settings.config import load_settings
from pjobs.settings.dburl import database_url
from pjobs.store import Store, open_store
from pjobs.store.records import Claim, NewJob, Outcome
from pjobs.timeutil import utcnow


@pytest.fixture
def pg_store(pg_database: str, tmp_path: Any) -> Iterator[Store]:
    settings = load_settings(None, database_url=pg_database, data_dir=tmp_path)
    store = open_store(database_url(settings), pool_size=4)
    yield store
    store.close()


def turn(store: Store) -> tuple[list[Outcome], Claim]:
    """Ten jobs queued, four claimed and run: their outcomes, and a claim for the rest."""
    now = utcnow() - timedelta(seconds=1)
    job = NewJob(type="noop", payload="{}", queue="default", priority=0, max_attempts=1, run_at=now)
    store.enqueue([job] * 10, utcnow())
    lease = utcnow() + timedelta(seconds=60)
    ran = store.claim("w", None, 4, utcnow(), lease)
    outcomes = [Outcome(j.id, j.attempt, "succeeded", utcnow(), utcnow()) for j in ran]
    return outcomes, Claim(None, 10, utcnow(), lease)


def states(store: Store) -> dict[str, int]:
    return {state: count for state, _, count in store.job_counts()}


def test_outcomes_are_recorded_and_jobs_claimed_in_one_turn(pg_store: Store) -> None:
    outcomes, claim = turn(pg_store)
    acknowledged, claimed = pg_store.acknowledge_and_claim("w", outcomes, claim)
    assert acknowledged == {o.job_id for o in outcomes} and len(claimed) == 6
    assert states(pg_store) == {"succeeded": 4, "running": 6}


@pytest.mark.parametrize("failing", ["acknowledge_on", "claim_on"])
def test_when_either_fails_neither_is_done(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """Recording fails: nothing is claimed; claiming fails: nothing is recorded."""
    outcomes, claim = turn(pg_store)

    def unavailable(*args: Any) -> Any:
        raise DatabaseUnavailable("the database went away")

    monkeypatch.setattr(pg_store, failing, unavailable)
    with pytest.raises(DatabaseUnavailable):
        pg_store.acknowledge_and_claim("w", outcomes, claim)
    assert states(pg_store) == {"running": 4, "queued": 6}  # as before the turn
