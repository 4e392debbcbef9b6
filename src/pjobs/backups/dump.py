"""Dumps of tenant databases, streamed in chunks with the tables they hold and their row
counts, taken from one consistent snapshot while the database is in use.

PostgreSQL: `pg_dump` (plain SQL, or `-Fc` for `custom`) on a snapshot exported from a
repeatable-read transaction that also counts the rows; the password goes to pg_dump in its
environment, never on a command line. SQLite: the online backup API copies the file into a
private snapshot; `sql` is its SQL dump, `custom` the snapshot file itself."""

from __future__ import annotations

import functools
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pjobs.errors import ConfigError, UnavailableError
from pjobs.store.files import read_only

CHUNK = 1 << 20
STDERR_CAP = 4096


@dataclass
class Dump:
    """A dump being read: its chunks, and what the manifest says of it."""

    chunks: Generator[bytes, None, None]
    tables: list[dict[str, Any]]
    tools: dict[str, str]
    dialect: str
    # None: raw, pjobs gzips it; "gzip": already gzipped (pg_dump -Z); "pg_dump": -Fc
    compression: str | None
    release: Callable[[], None] = lambda: None

    def close(self) -> None:
        """Stop reading: the dump program stopped, the snapshot let go."""
        self.chunks.close()
        self.release()


# libpq's environment variable of each connection parameter that has one.
PG_ENVIRONMENT = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "channel_binding": "PGCHANNELBINDING",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "requiressl": "PGREQUIRESSL",
    "sslcompression": "PGSSLCOMPRESSION",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcertmode": "PGSSLCERTMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI",
    "requirepeer": "PGREQUIREPEER",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME",
    "gsslib": "PGGSSLIB",
    "gssdelegation": "PGGSSDELEGATION",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "client_encoding": "PGCLIENTENCODING",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS",
    "require_auth": "PGREQUIREAUTH",
    "sslnegotiation": "PGSSLNEGOTIATION",
}


def pg_client(url: str) -> tuple[list[str], dict[str, str]]:
    """How a libpq program (pg_dump, psql) connects as the connection URL says, every
    parameter kept (TLS verification, channel binding, `hostaddr`, …): the arguments to
    add (`--dbname` with the parameters that have no environment variable, none of them
    secret), and its environment (those that have one, the password among them: an
    environment is private to the process, a command line is not)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    if "sslpassword" in params:
        raise ConfigError(
            "sslpassword cannot be given to pg_dump or psql without showing it on their "
            "command line: use a key file without a passphrase, readable by pjobs only"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({PG_ENVIRONMENT[k]: v for k, v in params.items() if k in PG_ENVIRONMENT})
    rest = {k: v for k, v in params.items() if k not in PG_ENVIRONMENT}
    return (["--dbname", make_conninfo(**rest)] if rest else []), env


def program_major(program: str) -> tuple[int, str]:
    """The major version of a PostgreSQL client program, and its version line; asked of
    the program once while its file stays the same (a process of its own each time cost
    a backup 30 ms)."""
    found = shutil.which(program)
    if found is None:
        raise ConfigError(
            f"{program} not found: install the PostgreSQL client (Debian: postgresql-client)"
        )
    return _version_of(found, os.stat(found).st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _version_of(program: str, modified: int) -> tuple[int, str]:
    """`program_major` of the program file at `program` as it was at `modified`."""
    found = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"(\d+)(?:\.\d+)?", found.stdout)
    if found.returncode != 0 or match is None:
        raise UnavailableError(f"{program} --version failed: {found.stderr.strip()[:200]}")
    return int(match.group(1)), found.stdout.strip()


def check_client(program: str, server_major: int) -> str:
    """Refuse a client program older than the server (pg_dump would refuse the dump)."""
    major, version = program_major(program)
    if major < server_major:
        setting = Path(program).name.replace("-", "_")
        raise ConfigError(
            f"{program} is version {major}, older than the PostgreSQL server ({server_major}): "
            f"install postgresql-client-{server_major}, or point backups.{setting} at it"
        )
    return version


def count_pg_tables(conn: Any) -> list[dict[str, Any]]:
    from psycopg import sql

    tables = conn.execute(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
    ).fetchall()
    counted = []
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        rows = conn.execute(query).fetchone()[0]
        name = table if schema == "public" else f"{schema}.{table}"
        counted.append({"name": name, "rows": int(rows)})
    return counted


class Counting(threading.Thread):
    """`count_pg_tables` on a connection, on a thread of its own: the rows are counted on
    the dump's snapshot while pg_dump reads them (one after the other, they took a tenth
    of the dump's time again)."""

    def __init__(self, conn: Any) -> None:
        super().__init__(name="pjobs-count-rows", daemon=True)
        self._conn = conn
        self._counted: list[dict[str, Any]] = []
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._counted = count_pg_tables(self._conn)
        except BaseException as exc:
            self._error = exc

    def result(self) -> list[dict[str, Any]]:
        self.join()
        if self._error is not None:
            raise UnavailableError(f"counting the rows of the dump failed: {self._error}")
        return self._counted


def postgres(url: str, fmt: str, pg_dump: str, level: int) -> Dump:
    """A `pg_dump` of the database at `url`, on a snapshot the row counts share; pg_dump
    compresses it (gzip at `level` for plain SQL), faster than a second process could."""
    import psycopg

    extra, env = pg_client(url)
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise UnavailableError(
            f"the tenant database is unavailable: {str(exc).strip()[:200]}"
        ) from None
    try:
        server_major = conn.info.server_version // 10000
        version = check_client(pg_dump, server_major)
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        exported = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert exported is not None
        snapshot = exported[0]
    except BaseException:
        conn.close()
        raise
    args = [pg_dump, f"--snapshot={snapshot}", "--no-owner", "--no-privileges"]
    args += ["--format=custom" if fmt == "custom" else "--format=plain", f"--compress={level}"]

    tables: list[dict[str, Any]] = []  # counted on the snapshot while pg_dump runs

    def chunks() -> Generator[bytes, None, None]:
        with tempfile.TemporaryFile() as stderr:  # a file: a chatty pg_dump cannot block
            process = subprocess.Popen(args + extra, env=env, stdout=subprocess.PIPE, stderr=stderr)
            assert process.stdout is not None
            counting = Counting(conn)
            finished = False
            try:
                while piece := process.stdout.read(CHUNK):
                    yield piece
                finished = True
                tables.extend(counting.result())
            finally:
                if not finished:
                    process.kill()
                process.stdout.close()
                code = process.wait()
                counting.join()
                conn.close()  # the snapshot lives until pg_dump is done with it
            if code != 0:
                stderr.seek(0)
                errors = stderr.read(STDERR_CAP).decode(errors="replace").strip().splitlines()
                raise UnavailableError(f"pg_dump failed ({code}): {(errors or ['?'])[-1]}")

    tools = {"pg_dump": version, "server": str(conn.info.server_version)}
    dump = Dump(chunks(), tables, tools, "postgresql", "pg_dump" if fmt == "custom" else "gzip")
    dump.release = conn.close  # also when the dump is never read
    return dump


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link: pjobs does not follow them for tenant files")


@contextmanager
def sqlite_snapshot(path: Path) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """A private (0600) copy of the tenant file, consistent even while it is written to."""
    _refuse_link(path)
    if not path.exists():
        raise UnavailableError(f"the tenant database {path} does not exist")
    with tempfile.TemporaryDirectory(prefix="pjobs-backup-") as tmp:
        copy = Path(tmp) / "snapshot.db"
        os.close(os.open(copy, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        source = read_only(path)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()
        try:
            yield target, copy
        finally:
            target.close()


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_tables(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return [
        {"name": name, "rows": conn.execute(f"SELECT count(*) FROM {quoted(name)}").fetchone()[0]}
        for name in names
    ]


def sqlite(path: Path, fmt: str) -> Dump:
    """The SQL dump (or, for `custom`, the file) of a snapshot of a SQLite tenant database;
    the tables are counted on the snapshot when the dump starts."""
    tables: list[dict[str, Any]] = []

    def chunks() -> Generator[bytes, None, None]:
        with sqlite_snapshot(path) as (snapshot, copy):
            tables.extend(sqlite_tables(snapshot))
            if fmt == "custom":
                snapshot.close()
                with copy.open("rb") as handle:
                    while piece := handle.read(CHUNK):
                        yield piece
                return
            buffer = bytearray()
            for line in snapshot.iterdump():
                buffer += line.encode() + b"\n"
                if len(buffer) >= CHUNK:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)

    tools = {"sqlite": sqlite3.sqlite_version}
    return Dump(chunks(), tables, tools, "sqlite", None)
