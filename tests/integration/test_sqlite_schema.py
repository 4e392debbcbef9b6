"""SQLite's schema costs nothing per row that it need not: no CHECK or index condition
lists three values or more after IN (SQLite makes and fills a table for such a list at every
row it writes), the queries of finished jobs still read their index, and the upgrade that
rewrote the checks kept every row and every check."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pjobs.settings.dburl import parse_database_url
from pjobs.store import open_store
from pjobs.store.migrate import upgrade
from pjobs.store.queries import load_migrations, load_queries
from pjobs.store.sqlite import SQLiteStore
from pjobs.timeutil import utcnow

STATES = {"queued", "running", "succeeded", "failed", "cancelled"}
# `x IN ('a', 'b', 'c')`: a list of three literals or more
LONG_LIST = re.compile(r"\bIN\s*\(\s*'[^']*'\s*,\s*'[^']*'\s*,", re.IGNORECASE)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "pjobs.db"
    open_store(parse_database_url(f"sqlite://{path}")).close()
    conn = sqlite3.connect(path, isolation_level=None)
    yield conn
    conn.close()


def db_tables(store: SQLiteStore) -> list[tuple[str, str]]:
    with store.transaction(write=False) as cursor:
        return cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()


def explained(conn: sqlite3.Connection, how: str, query: str) -> list[tuple[Any, ...]]:
    """`how` (EXPLAIN, or EXPLAIN QUERY PLAN) of a query, its parameters all NULL."""
    names = set(re.findall(r"(?<!:):(\w+)", query))
    return list(conn.execute(f"{how} {query}", dict.fromkeys(names)))


def test_no_check_or_index_condition_lists_three_values_after_in(
    db: sqlite3.Connection,
) -> None:
    long = [
        name
        for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        if any(LONG_LIST.search(part) for part in re.findall(r"CHECK\s*\(.*|WHERE .*", sql))
    ]
    assert long == []


@pytest.mark.parametrize(
    "name", ["claim_jobs", "acknowledge_jobs", "insert_queued_jobs", "insert_jobs"]
)
def test_writing_jobs_makes_no_table_of_states_for_each_row(
    db: sqlite3.Connection, name: str
) -> None:
    ops = explained(db, "EXPLAIN", load_queries("sqlite")[name])
    tables_of_states = [
        address
        for address, (_, opcode, *_rest) in enumerate(ops)
        if opcode == "OpenEphemeral"
        and any(op[1] == "String8" and op[5] in STATES for op in ops[address + 1 : address + 3])
    ]
    assert tables_of_states == []


@pytest.mark.parametrize(
    "name",
    ["purge_jobs", "count_purgeable", "finished_since", "recent_failures", "finished_by_bucket"],
)
def test_the_queries_of_finished_jobs_read_their_index(db: sqlite3.Connection, name: str) -> None:
    query = load_queries("sqlite")[name]
    plan = " ".join(row[3] for row in explained(db, "EXPLAIN QUERY PLAN", query))
    assert "jobs_finished" in plan, plan


def test_the_upgrade_that_rewrote_the_checks_keeps_rows_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "pjobs.db"
    store = SQLiteStore(str(path), create=True)
    try:
        before = [m for m in load_migrations("sqlite") if m.name != "state_checks"]
        assert len(before) == len(load_migrations("sqlite")) - 1
        now = utcnow()
        with store.transaction() as cursor:
            cursor.execute(store.queries["create_migrations_table"])
            for migration in before:
                store.apply_migration(cursor, migration)
                cursor.execute(
                    store.queries["record_migration"],
                    {"version": migration.version, "name": migration.name, "now": store.ts(now)},
                )
            for state in sorted(STATES):
                cursor.execute(
                    "INSERT INTO jobs (type, queue, payload, state, max_attempts, run_at, "
                    "created_at, finished_at) VALUES ('noop', 'default', '{}', ?, 1, ?, ?, ?)",
                    (state, store.ts(now), store.ts(now), store.ts(now + timedelta(seconds=1))),
                )
        assert [m.name for m in upgrade(store, now)] == ["state_checks"]
        with store.transaction() as cursor:
            assert cursor.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            rows = cursor.execute("SELECT state FROM jobs ORDER BY state").fetchall()
            assert [state for (state,) in rows] == sorted(STATES)
            finished = "SELECT count(*) FROM jobs INDEXED BY jobs_finished WHERE " + (
                "state = 'succeeded' OR state = 'failed' OR state = 'cancelled'"
            )
            assert cursor.execute(finished).fetchone() == (3,)
        rewritten = dict(
            jobs="state", job_attempts="outcome", projects="status", api_keys="status",
            notifications="state", webhook_deliveries="state", backups="state",
        )  # fmt: skip
        schema = dict(db_tables(store))
        for table, column in rewritten.items():
            assert f"CHECK ({column} = '" in schema[table], schema[table]
        with pytest.raises(Exception, match="CHECK constraint failed"), store.transaction() as c:
            c.execute("UPDATE jobs SET state = 'lost'")
        with pytest.raises(Exception, match="CHECK constraint failed"), store.transaction() as c:
            c.execute(
                "INSERT INTO job_attempts (job_id, attempt, outcome, finished_at) "
                "SELECT id, 1, 'skipped', finished_at FROM jobs LIMIT 1"
            )
    finally:
        store.close()
