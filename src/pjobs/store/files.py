"""The files of a SQLite control database: made private (0600, in a 0700 folder), the
signs that one existed where it is now missing, and its journal mode (WAL)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PJOBS_DATA = ("tenants", "backups", "webhooks.key")  # what pjobs keeps beside its database


def read_only(path: Path | str, **options: Any) -> sqlite3.Connection:
    """A read-only connection to the SQLite file at `path`, opened by a `file:` URI in
    which every character a URI gives a meaning (`#`, `?`, `%`) is escaped: a path like
    `data#1/pjobs.db` opens that file, not `data`."""
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    conn: sqlite3.Connection = sqlite3.connect(uri, uri=True, **options)
    return conn


def create_private_file(path: Path) -> None:
    """Create `path` (and its folder) readable by its owner only, if it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def used_before(path: Path) -> bool:
    """Whether what is beside a (missing) database file says it existed: the mark pjobs
    leaves when it makes or opens one (`mark_made`), its journal files, or the data pjobs
    keeps next to its database."""
    beside = (made_mark(path).name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal")
    return any((path.parent / name).exists() for name in (*beside, *PJOBS_DATA))


def made_mark(path: Path) -> Path:
    """The file that says a database was made at `path`: should the database go missing,
    it is not made again silently (only `pjobs db upgrade` makes it again)."""
    return path.with_name(f"{path.name}.made")


def mark_made(path: Path) -> None:
    """Leave `made_mark` beside the database (0600, once)."""
    mark = made_mark(path)
    if not mark.exists():
        try:
            fd = os.open(mark, os.O_CREAT | os.O_WRONLY, 0o600)
        except OSError:
            return  # a folder that cannot take it: the journal files still tell
        with os.fdopen(fd, "w") as handle:
            handle.write("pjobs made a control database here; it is not made again silently\n")


def use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch a new file to WAL (the mode stays with the file). Two processes opening a new
    file at once can get SQLITE_BUSY here without the busy handler being asked, so retry."""

    def switch() -> None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")

    when_free(switch, timeout)


def begin_immediate(conn: sqlite3.Connection, timeout: float) -> None:
    """BEGIN IMMEDIATE, waiting up to `timeout` seconds for another process's writer with
    short sleeps (`when_free`) instead of SQLite's busy handler, which sleeps 1, 2, 5, 10,
    15, 20, 25 ms and more between tries: a writer of another process, such as a second
    `serve` taking its turn, would keep this one waiting long after it let go."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        when_free(lambda: conn.execute("BEGIN IMMEDIATE"), timeout)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {round(timeout * 1000)}")


def when_free(step: Callable[[], object], timeout: float) -> None:
    """Run `step` until SQLite stops answering that the database is busy, at most
    `timeout` seconds: sleeps of 0.1 ms between tries, doubling up to 2 ms."""
    deadline = time.monotonic() + timeout
    pause = 0.0001
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            busy = (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.002)
