"""Fixtures: settings in a temporary data dir, and stores on both backends.

PostgreSQL tests use the server at PJOBS_TEST_POSTGRES_URL (default: the local one on
127.0.0.1:5432). Each test gets its own database, cloned from a template migrated once
per session, and dropped afterwards. Without a reachable server they are skipped with the
reason shown, except where PJOBS_REQUIRE_POSTGRES=1 (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pjobs.app import App
from pjobs.queue.jobqueue import JobQueue
from pjobs.settings.config import Settings, load_settings
from pjobs.settings.dburl import database_url
from pjobs.store import Store, open_store
from pjobs.timeutil import utcnow

TESTS = Path(__file__).parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_SERVER = os.environ.get("PJOBS_TEST_POSTGRES_URL", DEFAULT_PG)
TEMPLATE = f"pjobs_test_template_{os.getpid()}"
# Read once, at import: fixtures that clean the environment of PJOBS_* settings run later
# and must not be able to turn a required server into an optional one.
REQUIRE_POSTGRES = os.environ.get("PJOBS_REQUIRE_POSTGRES") == "1"


def _server_problem() -> str | None:
    try:
        import psycopg

        psycopg.connect(PG_SERVER, connect_timeout=3).close()
    except Exception as exc:
        return f"PostgreSQL at {PG_SERVER} is not reachable: {str(exc).strip().splitlines()[0]}"
    return None


_PROBLEM = _server_problem()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Where PostgreSQL is required (CI), a missing server stops the run before any test.
    pjobs' own modules are compiled once, as an installed wheel's are: an editable install
    under PYTHONDONTWRITEBYTECODE would compile them again in every `pjobs` the tests run."""
    if REQUIRE_POSTGRES and _PROBLEM is not None:
        pytest.exit(f"{_PROBLEM} (required here: PJOBS_REQUIRE_POSTGRES=1)", returncode=1)
    import compileall

    import pjobs

    compileall.compile_dir(Path(pjobs.__file__).parent, quiet=1)


def require_postgres() -> None:
    if _PROBLEM is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"{_PROBLEM} (required here: PJOBS_REQUIRE_POSTGRES=1)")
    pytest.skip(_PROBLEM)


def require_browser() -> tuple[str, str]:
    """Debian's chromium and chromedriver (`.ci/run` installs them): their paths; skipped
    without them, with the reason, or a failure where PJOBS_REQUIRE_BROWSER=1 (CI)."""
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    problem = "chromium and chromedriver are not installed (Debian: chromium chromium-driver)"
    if os.environ.get("PJOBS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{problem} (required here: PJOBS_REQUIRE_BROWSER=1)")
    pytest.skip(problem)


def require_psql() -> None:
    """psql, PostgreSQL's client (Debian: postgresql-client): skipped without it, with the
    reason; where PostgreSQL is required (CI), its client is too, and that is a failure."""
    import shutil

    if shutil.which("psql") is not None:
        return
    problem = "psql is not installed (Debian: postgresql-client)"
    if REQUIRE_POSTGRES:
        pytest.fail(f"{problem} (required here: PJOBS_REQUIRE_POSTGRES=1)")
    pytest.skip(problem)


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(sql)


def url_for(database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(PG_SERVER)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require_postgres()
    _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
    _admin(f'CREATE DATABASE "{TEMPLATE}"')
    store = open_store(database_url(Settings(database_url=url_for(TEMPLATE))), check_schema=False)
    store.upgrade(utcnow())
    store.close()
    yield TEMPLATE
    _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')


def tenant_prefix_of(url: str) -> str:
    """The tenant database prefix of the CLI runs on one test database (`cli_env`)."""
    import hashlib

    return "t" + hashlib.sha256(url.encode()).hexdigest()[:8] + "_"


def drop_databases(prefix: str) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own; its URL. The tenant
    databases that CLI runs on it create (`cli_env`) are dropped with it."""
    name = f"pjobs_test_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield url_for(name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    drop_databases(tenant_prefix_of(url_for(name)))


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """A PostgreSQL database with no pjobs schema."""
    require_postgres()
    name = f"pjobs_test_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}"')
    yield url_for(name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting of the machine running the tests leaks into them."""
    for key in list(os.environ):
        if key.startswith("PJOBS_") and key not in ("PJOBS_TEST_POSTGRES_URL",):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


# A test whose subject is the same on either store, run on the embedded one only: what the
# CLI says, asks and exits with (each store's SQL is tested in tests/integration), or a
# process's behaviour that no store changes (said where it is used).
ON_SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database URL of a fresh database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/pjobs.db"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def make_settings(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": backend,
            "data_dir": tmp_path / "data",
            "handler_modules": ["support.jobtypes"],
            "tenants": {"name_prefix": request.getfixturevalue("tenant_prefix")},
        }
        values.update(overrides)
        return load_settings(None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(database_url(settings), pool_size=8)
    yield opened
    opened.close()


@pytest.fixture
def app(store: Store, settings: Settings) -> Iterator[App]:
    """The composition root on this test's store (which the fixture closes)."""
    built = App(settings, store=store)
    yield built
    built.close()


@pytest.fixture
def job_queue(app: App) -> JobQueue:
    return app.queue


@pytest.fixture
def stub_server() -> Iterator[Callable[..., Any]]:
    """Start loopback HTTP servers: `stub_server()` or `stub_server(default=(500, {}))`."""
    from support.http_stub import StubServer

    started: list[StubServer] = []

    def start(**kwargs: Any) -> StubServer:
        server = StubServer(**kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def tenant_prefix(backend: str) -> Iterator[str]:
    """A tenant database name prefix of this test's own; its databases are dropped after."""
    prefix = f"t{secrets.token_hex(4)}_"
    yield prefix
    if backend.startswith("postgresql"):
        drop_databases(prefix)


def as_at_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it: the suite itself may run with SIGINT ignored
    (nohup, `&` in a script), which a child would inherit, and Python then leaves it so."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class CLI:
    """`pjobs` run as a user runs it: a separate process, its own environment."""

    env: dict[str, str]
    logs: Path

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """`python -m pjobs ARGS`, its output captured (a process forked from one that
        imported pjobs already: support.forks)."""
        from support import forks

        return forks.run(args, self.env, input, timeout)

    def states(self) -> dict[str, int]:
        """`jobs stats`: how many jobs are in each state."""
        result = self("jobs", "stats", "--json")
        assert result.returncode == 0, result.stderr
        states: dict[str, int] = json.loads(result.stdout)["states"]
        return states

    def popen(self, *args: str) -> Background:
        """Start `pjobs ARGS` in the background, its output going to a log file."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{'-'.join(args[:1])}-{secrets.token_hex(3)}.log"
        with log.open("w") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "pjobs", *args],
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                preexec_fn=as_at_a_terminal,
            )
        return Background(process, log)


@dataclass
class Background:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text()

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def cli_env(tmp_path: Path, database: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PJOBS_") or key == "PJOBS_TEST_POSTGRES_URL"
    }
    env.update(
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")])),
        PJOBS_HANDLER_MODULES='["support.jobtypes"]',
        PJOBS_SCHEDULING__ENABLED="false",  # tests that count jobs count only their own
        NO_COLOR="1",
    )
    if database:
        env["PJOBS_DATABASE_URL"] = database
        env["PJOBS_TENANTS__NAME_PREFIX"] = tenant_prefix_of(database)
    return env


@pytest.fixture
def cli(tmp_path: Path, backend: str, tenant_prefix: str) -> CLI:
    env = {**cli_env(tmp_path, backend), "PJOBS_TENANTS__NAME_PREFIX": tenant_prefix}
    return CLI(env, tmp_path / "logs")


def dump_database(url: str) -> str:
    """Every row of every table of a control database, as text (for before/after and for
    searching it for secrets)."""
    if url.startswith("sqlite://"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite://") :])
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    import psycopg

    lines = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
            lines.extend(f"{table}: {row!r}" for row in rows)
    return "\n".join(lines)


def pg_databases() -> set[str]:
    import psycopg

    with psycopg.connect(PG_SERVER) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}
