"""PostgreSQL's plans of the worker's statements stay proportional to the work, not to the
size of the tables: a claim after a burst of jobs takes the queue in order instead of
sorting all of it (whatever the statistics say), an acknowledgement is planned with its ids
(never prepared: a generic plan searched them one by one for every running job, 7 x
slower), the dead rows of finished jobs are vacuumed away, recording webhook attempts
finds their deliveries by id, and a batch's ids are reserved with one lookup of their
sequence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import CLI, cli_env
from pjobs.settings.config import load_settings
from pjobs.settings.dburl import database_url
from pjobs.store import Store, open_store
from pjobs.store.records import Claim, NewJob, Outcome
from pjobs.timeutil import utcnow

pytestmark = pytest.mark.slow


def plan(database: str, query: str, params: dict[str, Any]) -> str:
    """The plan PostgreSQL makes for `query` (EXPLAIN, nothing run), as JSON text."""
    with psycopg.connect(database) as conn:
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", params).fetchone()
        assert row is not None
        return json.dumps(row[0])


def claim_plan(database: str) -> str:
    """How the claim reads the due jobs (its UPDATE's plan; the claimed rows are sorted
    after, a limit's worth at most)."""
    from pjobs.store.queries import load_queries

    query = load_queries("postgresql")["claim_jobs"]
    params = {"worker_id": "w", "queues": None, "limit": 10, "now": "2100-01-01T00:00:00Z"}
    found = json.loads(plan(database, query, params | {"lease_expires_at": "2100-01-01T00:01:00Z"}))
    return json.dumps(update_of(found[0]["Plan"]))


def update_of(claim: dict[str, Any]) -> dict[str, Any]:
    """The claim's UPDATE in its plan (beneath the sort of the rows it claimed)."""
    (update,) = [p for p in claim["Plans"] if p["Node Type"] == "ModifyTable"]
    return update


def test_serve_refreshes_the_statistics_a_burst_of_jobs_left_stale(
    tmp_path: Path, pg_database: str
) -> None:
    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    result = cli("jobs", "enqueue", "noop", "--count", "5000", "--delay", "1h")
    assert result.returncode == 0, result.stderr
    # what the planner makes of the burst before serve runs: a sort of every queued job
    assert '"Sort"' in claim_plan(pg_database)
    result = cli("serve", "--burst")  # nothing due: its maintenance is all it does
    assert result.returncode == 0, result.stderr
    after = claim_plan(pg_database)
    assert '"Sort"' not in after and '"Index Name": "jobs_due"' in after, after


def test_recording_webhook_attempts_finds_their_deliveries_by_id(pg_database: str) -> None:
    from datetime import UTC, datetime

    from pjobs.control import ControlPlane
    from pjobs.settings.config import Settings
    from pjobs.settings.dburl import database_url
    from pjobs.store import open_store
    from pjobs.store.queries import load_queries

    store = open_store(database_url(Settings(database_url=pg_database)))
    try:
        with ControlPlane(store).tx(datetime.now(UTC)) as tx:
            tx.owners.ensure("owner-1")
            tx.projects.insert("proj-1", "P", "owner-1", "eu", "free")
            tx.webhooks.add_endpoint("we_1", "proj-1", "http://example.com/", ["*"], None, "s")
    finally:
        store.close()
    with psycopg.connect(pg_database) as conn:
        conn.execute(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_type, body, state, created_at)"
            " SELECT 'msg_' || lpad(to_hex(n), 24, '0'), 'we_1', 'webhook.test', '{}',"
            " 'pending', now() FROM generate_series(1, 5000) AS n"
        )
    attempt = {"id": "msg_" + "0" * 23 + "1", "attempt": 1, "at": "2026-11-30T00:00:00Z",
               "state": "delivered", "next_attempt_at": None, "status": 200,
               "latency_ms": 1.0, "error": None, "response": "ok"}  # fmt: skip
    query = load_queries("postgresql")["deliveries_attempted"]
    found = plan(pg_database, query, {"rows": json.dumps([attempt])})
    assert '"Relation Name": "webhook_deliveries"' in found
    assert '"Seq Scan"' not in found, found


def test_acknowledging_a_batch_compares_no_outcome_with_every_running_job(
    tmp_path: Path, pg_database: str
) -> None:
    """Statistics taken while no job ran (at serve's start, after a burst) could make the
    planner join 1,000 outcomes with 1,000 running jobs pair by pair in a nested loop:
    0.3 s a turn. The statement has no such join to get wrong: even with hash and merge
    joins off, which is what such estimates amount to, its plan holds no nested loop."""
    from datetime import UTC, datetime, timedelta

    from pjobs.settings.config import Settings
    from pjobs.settings.dburl import database_url
    from pjobs.store import open_store
    from pjobs.store.records import Outcome

    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    assert cli("jobs", "enqueue", "noop", "--count", "2000").returncode == 0
    store = open_store(database_url(Settings(database_url=pg_database)))
    try:
        now = datetime.now(UTC)
        claimed = store.claim("w", None, 1000, now, now + timedelta(hours=1))
        outcomes = [Outcome(job.id, job.attempt, "succeeded", now, now) for job in claimed]

        class Explain:
            """A cursor that plans the statement it is given instead of running it."""

            def __init__(self, cursor: Any) -> None:
                self.cursor, self.plan = cursor, ""

            def execute(self, query: str, params: dict[str, Any], **options: Any) -> None:
                self.cursor.execute(f"EXPLAIN (FORMAT JSON) {query}", params)
                self.plan = json.dumps(self.cursor.fetchone()[0])

            def fetchall(self) -> list[Any]:
                return []

        with store.transaction() as cursor:
            cursor.execute("SET LOCAL enable_hashjoin = off")
            cursor.execute("SET LOCAL enable_mergejoin = off")
            explain = Explain(cursor)
            store.acknowledge_on(explain, "w", outcomes)
        assert explain.plan and '"Nested Loop"' not in explain.plan, explain.plan
    finally:
        store.close()


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan (EXPLAIN's JSON), the plan's own first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def scans_of(plan_json: str, relation: str) -> list[str]:
    """The node types of a plan's scans of `relation`."""
    nodes = plan_nodes(json.loads(plan_json)[0]["Plan"])
    return [node["Node Type"] for node in nodes if node.get("Relation Name") == relation]


def test_adding_up_usage_reads_the_totals_of_its_periods_only(pg_database: str) -> None:
    """The merges of an import join its records with the totals of their billing periods,
    found by the index, not with every period's (by a hash join over a scan of all the
    totals, with 20,000 records): an import took longer each month."""
    from pjobs.store.queries import load_queries
    from pjobs.store.staging import UsageRecord, encode_records

    queries = load_queries("postgresql")
    at = 1_795_000_000_000_000  # in 2026-11
    records = [UsageRecord(n, f"proj-{n}", "requests", 1.0, at, False) for n in range(20_000)]
    with psycopg.connect(pg_database) as conn:
        conn.execute(  # eleven months of totals of 4,000 keys
            "INSERT INTO usage_totals SELECT 'proj-' || n, 'requests', '2025-' || lpad(m::text, 2,"
            " '0'), 1, now() FROM generate_series(1, 4000) AS n, generate_series(1, 11) AS m"
        )
        conn.execute("ANALYZE usage_totals")
        conn.execute(queries["stage_usage"])
        with conn.cursor().copy("COPY stage_usage_records FROM STDIN") as copy:
            copy.write(encode_records("postgresql", records))
        for name in ("merge_usage_counters", "merge_usage_gauges"):
            row = conn.execute(
                f"EXPLAIN (FORMAT JSON) {queries[name]}", {"periods": ["2026-11"]}
            ).fetchone()
            assert row is not None
            scans = scans_of(json.dumps(row[0]), "usage_totals")
            assert scans and "Seq Scan" not in scans, (name, scans)


class Explaining:
    """A cursor that explains the claim statement before running it."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.plans: list[dict[str, Any]] = []
        self.jit: list[bool] = []  # whether each would be compiled

    def execute(self, query: str, params: Any = None) -> Any:
        if "claimed AS (" in query:
            self._cursor.execute(f"EXPLAIN (FORMAT JSON) {query}", params)
            (explained,) = self._cursor.fetchone()[0]
            self.plans.append(explained["Plan"])
            self.jit.append("JIT" in explained)
        return self._cursor.execute(query, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def node_types(plan: dict[str, Any]) -> set[str]:
    return {node["Node Type"] for node in plan_nodes(plan)}


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
    # the claimed rows are sorted (a thousand at most); the due rows are read in order
    update = update_of(plan)
    assert "Sort" not in node_types(update), json.dumps(plan, indent=1)
    assert "Index Scan" in node_types(update)
    # its cost, with sorts off, is far over JIT's threshold: compiling it took 95 ms
    assert explaining.jit == [False]


def synchronous_commit(store: Store) -> str:
    with store.transaction() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        (setting,) = cursor.fetchone()
    return str(setting)


def test_a_claim_commits_without_waiting_for_the_disk_and_nothing_else_does(
    pg_store: Store,
) -> None:
    """A claim's commit does not wait for the disk (on an idle server that wait was 1 ms of
    the 1.2 ms from a worker's wake-up to its job's start); the setting is the claim's
    transaction's alone: what runs next on the same connection (one connection: one
    session), an enqueue or an outcome, waits for the disk as the server says."""
    pg_store.enqueue(queued(1), utcnow())
    before = synchronous_commit(pg_store)
    now = utcnow()
    with pg_store.transaction() as cursor:
        (job,) = pg_store.claim_on(cursor, "w", Claim(None, 1, now, now + timedelta(minutes=1)))  # type: ignore[attr-defined]
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone() == ("off",)
    assert before != "off" and synchronous_commit(pg_store) == before
    assert pg_store.acknowledge("w", [Outcome(job.id, 1, "succeeded", now, now)]) == {job.id}


def test_reserving_job_ids_looks_their_sequence_up_once(pg_database: str) -> None:
    """A batch enqueue reserves its jobs' ids (nextval, a row each); the lookup of the
    sequence is made once for all of them, not in each row (eight times nextval's cost)."""
    from pjobs.store.queries import load_queries

    query = load_queries("postgresql")["reserve_job_ids"]
    with psycopg.connect(pg_database) as conn:
        row = conn.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {query}", {"count": 20_000})
        ((explained,),) = row.fetchall()

    looked_up = [
        (node["Node Type"], node["Plan Rows"])
        for node in plan_nodes(explained[0]["Plan"])
        if "pg_get_serial_seq" in " ".join(node.get("Output", []))
    ]
    # the row source (generate_series) does not look it up; a node of one row does
    assert ("Function Scan", 20_000) not in looked_up, json.dumps(explained, indent=1)
    assert any(rows == 1 for _, rows in looked_up), json.dumps(explained, indent=1)


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


def test_the_jobs_statistics_are_taken_from_a_small_sample(pg_store: Store) -> None:
    """A worker's ANALYZE samples 3,000 rows (statistics target 10), not 30,000: the
    histogram of the jobs' ids has at most 11 bounds."""
    pg_store.enqueue(queued(20_000), utcnow())
    with pg_store.transaction() as cursor:  # the enqueue's changes, where the check sees them
        cursor.execute("SELECT pg_stat_force_next_flush()")
    pg_store.refresh_statistics()
    with pg_store.transaction(write=False) as cursor:
        cursor.execute(
            "SELECT cardinality(histogram_bounds::text::bigint[]) FROM pg_stats"
            " WHERE tablename = 'jobs' AND attname = 'id' AND schemaname = current_schema()"
        )
        (bounds,) = cursor.fetchone()
    assert 2 <= bounds <= 11, bounds
