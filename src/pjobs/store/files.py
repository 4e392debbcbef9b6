"""The files of a SQLite control database: made private (0600, in a 0700 folder), the
signs that one existed where it is now missing, and its journal mode (WAL)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

PJOBS_DATA = ("tenants", "backups", "webhooks.key")  # what pjobs keeps beside its database


def create_private_file(path: Path) -> None:
    """Create `path` (and its folder) readable by its owner only, if it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def used_before(path: Path) -> bool:
    """Whether what is beside a (missing) database file says it existed: its journal
    files, or the data pjobs keeps next to its database."""
    beside = (f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal")
    return any((path.parent / name).exists() for name in (*beside, *PJOBS_DATA))


def use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch a new file to WAL (the mode stays with the file). Two processes opening a new
    file at once can get SQLITE_BUSY here without the busy handler being asked, so retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
