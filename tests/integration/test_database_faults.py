"""Database faults as they happen: a full SQLite disk (SQLite rolls back by itself), a
PostgreSQL that turns read-only (a replica after a failover), and pooled connections whose
backends were terminated. Each is named for what it is, never hidden behind a second
error, and waited out by serve."""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import CLI, PG_SERVER, cli_env
from pjobs.errors import DatabaseConflict, DatabaseFull, DatabaseUnavailable
from pjobs.settings.dburl import parse_database_url
from pjobs.store import Store, open_store
from pjobs.store.records import NewJob
from pjobs.timeutil import utcnow
from support.waiting import until


def job(payload: str = "{}") -> NewJob:
    return NewJob("noop", payload, "default", 0, 1, utcnow(), None)


def sqlite_store(tmp_path: Path) -> Store:
    return open_store(parse_database_url(f"sqlite://{tmp_path}/pjobs.db"), create=True)


def job_count(store: Store) -> int:
    return sum(n for _state, _type, n in store.job_counts())


def test_a_full_disk_is_named_and_changes_nothing(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    try:
        store.enqueue([job()], utcnow())
        conn = store._connection()  # this thread's: the limit is per connection
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        big = json.dumps({"filler": "x" * 200_000})
        with pytest.raises(DatabaseFull, match="or disk is full; free disk space"):
            store.enqueue([job(), job(big)], utcnow())
        conn.execute("PRAGMA max_page_count = 1073741823")
        store.enqueue([job()], utcnow())
        assert job_count(store) == 2  # of the failed batch, nothing
    finally:
        store.close()


class CommitFails:
    """A connection whose COMMIT meets an I/O error, as SQLite handles one: the whole
    transaction rolled back by SQLite itself, then the error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self._conn.execute("ROLLBACK")
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorcode = 10  # SQLITE_IOERR
            raise error
        return self._conn.execute(sql, *args)


def test_a_failed_commit_is_reported_not_hidden_by_the_rollback(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    try:
        real = store._connection()
        store._local.conn = CommitFails(real)  # type: ignore[attr-defined]
        # a ROLLBACK now fails ("no transaction is active"): it must not replace the error
        with pytest.raises(DatabaseUnavailable, match="disk I/O error"):
            store.enqueue([job()], utcnow())
        # the connection that met the fault is replaced: the next transaction opens another
        assert job_count(store) == 0
    finally:
        store.close()


def test_sqlite_writers_in_one_process_queue_and_one_kept_waiting_too_long_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from pjobs.store import sqlite as sqlite_module

    store = sqlite_store(tmp_path)
    try:
        writers = [
            threading.Thread(target=lambda: store.enqueue([job() for _ in range(20)], utcnow()))
            for _ in range(8)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=30)
        assert job_count(store) == 160  # none lost to SQLite's busy lock

        monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_SECONDS", 0.2)
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with store.transaction():
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(10)
        try:
            with pytest.raises(DatabaseConflict, match="another writer in this process"):
                store.enqueue([job()], utcnow())
        finally:
            release.set()
            holder.join(10)
        assert job_count(store) == 160
    finally:
        store.close()


def test_a_sqlite_writer_of_another_process_is_followed_closely_and_outwaited_for_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection, outside the store's queue as another process's would be, holds
    the write lock for 105 ms: the store's writer starts within a few ms of its release
    (SQLite's own busy handler, sleeping 1, 2, 5 … 25 ms, would start it 23 ms late), and
    one kept waiting longer than the busy timeout is told so (75)."""
    import threading
    import time

    from pjobs.store import sqlite as sqlite_module

    store = sqlite_store(tmp_path)
    other = sqlite3.connect(tmp_path / "pjobs.db", isolation_level=None, check_same_thread=False)
    try:
        store.enqueue([job()], utcnow())

        def hold(seconds: float, released: list[float]) -> None:
            other.execute("BEGIN IMMEDIATE")
            holding.set()
            time.sleep(seconds)
            other.execute("COMMIT")
            released.append(time.monotonic())

        late = []
        for _ in range(3):
            holding, released = threading.Event(), list[float]()
            holder = threading.Thread(target=hold, args=(0.105, released))
            holder.start()
            assert holding.wait(10)
            with store.transaction():
                began = time.monotonic()
            holder.join(10)
            late.append(began - released[0])
        assert min(late) < 0.010, late

        monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_SECONDS", 0.2)
        holding, released = threading.Event(), []
        holder = threading.Thread(target=hold, args=(1.0, released))
        holder.start()
        assert holding.wait(10)
        try:
            with pytest.raises(DatabaseConflict, match="locked"):
                store.enqueue([job()], utcnow())
        finally:
            holder.join(10)
        assert job_count(store) == 1
    finally:
        other.close()
        store.close()


@contextmanager
def read_only(database_url: str) -> Iterator[None]:
    """The database refuses writes in new sessions, and the existing ones are cut."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]

    def switch(setting: str) -> None:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {setting}')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )

    switch("on")
    try:
        yield
    finally:
        switch("off")


def test_a_read_only_postgresql_is_unavailable_and_serve_waits_it_out(
    tmp_path: Path, pg_database: str
) -> None:
    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    assert cli("jobs", "enqueue", "noop", "--count", "5").returncode == 0
    with read_only(pg_database):
        refused = cli("jobs", "enqueue", "noop")
        assert refused.returncode == 69, refused.stderr
        assert refused.stderr.count("\n") == 1 and "read-only" in refused.stderr, refused.stderr
        worker = cli.popen("serve")
        until(lambda: "read-only transaction; trying again" in worker.output())
        assert worker.process.poll() is None, worker.output()
    try:
        until(lambda: cli.states() == {"succeeded": 5})
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()


def test_a_terminated_backend_costs_a_reconnect_not_an_error(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from pjobs.store import postgres

    store = open_store(parse_database_url(pg_database))
    try:
        store.enqueue([job()], utcnow())
        name = pg_database.rsplit("/", 1)[1]
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            ).fetchone()
        assert cut is not None and cut[0] >= 1
        monkeypatch.setattr(postgres, "IDLE_CHECK_SECONDS", 0.0)  # as if idle a while
        assert job_count(store) == 1
    finally:
        store.close()


def test_a_database_that_refuses_connections_while_serve_starts_is_waited_out(
    tmp_path: Path, pg_database: str
) -> None:
    """The database takes no connections when `serve` starts (as during a failover or a
    restart): serve says so and tries again, as it would once running, then runs the jobs;
    an outage longer than worker.max_outage_seconds ends it with 69."""
    import psycopg

    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    assert cli("jobs", "enqueue", "noop", "--count", "3").returncode == 0
    name = pg_database.rsplit("/", 1)[1]

    def connections(allowed: bool) -> None:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {allowed}')

    connections(False)
    try:
        cli.env["PJOBS_WORKER__MAX_OUTAGE_SECONDS"] = "1"
        gave_up = cli.popen("serve", "--burst")
        assert gave_up.wait(60) == 69, gave_up.output()
        cli.env["PJOBS_WORKER__MAX_OUTAGE_SECONDS"] = "60"
        worker = cli.popen("serve", "--burst")
        until(lambda: "trying again" in worker.output(), 30, "serve to wait")
        assert worker.process.poll() is None, worker.output()
    finally:
        connections(True)
    assert worker.wait(60) == 0, worker.output()
    assert cli.states() == {"succeeded": 3}


def test_a_deleted_sqlite_database_is_never_made_again_silently(tmp_path: Path) -> None:
    """With only the queue in use (nothing else of pjobs' beside the file), a deleted
    control database is not made anew by the next command, nor by the running process
    whose connections held the deleted file: both are told (69); `db upgrade` makes it."""
    cli = CLI(cli_env(tmp_path, f"sqlite://{tmp_path}/data/pjobs.db"), tmp_path / "logs")
    assert cli("jobs", "enqueue", "noop").returncode == 0  # the first run makes it
    path = tmp_path / "data" / "pjobs.db"
    store = open_store(parse_database_url(f"sqlite://{path}"))
    try:
        store.enqueue([job()], utcnow())
        for name in ("pjobs.db", "pjobs.db-wal", "pjobs.db-shm"):
            (tmp_path / "data" / name).unlink(missing_ok=True)
        with pytest.raises(DatabaseUnavailable, match="is gone"):
            store.enqueue([job()], utcnow())
        assert not path.exists()
    finally:
        store.close()
    again = cli("jobs", "enqueue", "noop")
    assert again.returncode == 69 and "does not exist" in again.stderr, again.stderr
    assert not path.exists()
    assert cli("db", "upgrade").returncode == 0 and path.exists()
    assert cli("jobs", "enqueue", "noop").returncode == 0
