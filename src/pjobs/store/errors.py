"""The one table that turns database driver errors (sqlite3, psycopg) into pjobs errors by
kind: unavailable, read-only, disk full, conflict (busy, serialization, deadlock) and
integrity. Both stores translate through it, so everything above handles kinds, not
drivers."""

from __future__ import annotations

import sqlite3

from pjobs.errors import (
    DatabaseConflict,
    DatabaseFull,
    DatabaseReadOnly,
    DatabaseUnavailable,
    IntegrityConflict,
    PjobsError,
)

# SQLite's primary result codes (the low byte of the extended code).
_SQLITE: dict[int, type[PjobsError]] = {
    5: DatabaseConflict,  # SQLITE_BUSY
    6: DatabaseConflict,  # SQLITE_LOCKED
    8: DatabaseReadOnly,  # SQLITE_READONLY
    10: DatabaseUnavailable,  # SQLITE_IOERR (a disk that is full shows as this too)
    11: DatabaseUnavailable,  # SQLITE_CORRUPT
    13: DatabaseFull,  # SQLITE_FULL
    14: DatabaseUnavailable,  # SQLITE_CANTOPEN
    19: IntegrityConflict,  # SQLITE_CONSTRAINT
    26: DatabaseUnavailable,  # SQLITE_NOTADB
}
_SQLITE_HINT: dict[type[PjobsError], str] = {
    DatabaseConflict: "; another process holds the database, try again",
    DatabaseFull: "; free disk space, then try again",
}

# PostgreSQL SQLSTATE codes, most specific first (a prefix is a class of codes).
_POSTGRES = (
    ("25006", DatabaseReadOnly),  # read_only_sql_transaction: a replica after a failover
    ("53100", DatabaseFull),  # disk_full
    ("40", DatabaseConflict),  # serialization failure, deadlock
    ("55P03", DatabaseConflict),  # lock_not_available
    ("23", IntegrityConflict),  # integrity constraint violation
    ("08", DatabaseUnavailable),  # connection exception
    ("57P", DatabaseUnavailable),  # admin shutdown, crash shutdown, cannot connect now
    ("53", DatabaseUnavailable),  # insufficient resources (too many connections)
)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def sqlite_error(exc: sqlite3.Error, where: str) -> PjobsError | None:
    """The kind of a sqlite3 error, or None for an error in pjobs' own SQL (a bug)."""
    code = getattr(exc, "sqlite_errorcode", None)
    kind: type[PjobsError] | None = _SQLITE.get(code & 0xFF) if isinstance(code, int) else None
    if kind is None and isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "locked" in text or "busy" in text:
            kind = DatabaseConflict
        elif "readonly" in text or "read-only" in text:
            kind = DatabaseReadOnly
        elif "disk" in text or "unable to open" in text:
            kind = DatabaseUnavailable
    if kind is None:
        return None
    return kind(f"SQLite database {where}: {first_line(exc)}{_SQLITE_HINT.get(kind, '')}")


def postgres_error(exc: BaseException, where: str) -> PjobsError | None:
    """The kind of a psycopg error, or None for an error in pjobs' own SQL (a bug)."""
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    state = getattr(exc, "sqlstate", None) or ""
    kind: type[PjobsError] | None = next(
        (kind for prefix, kind in _POSTGRES if state.startswith(prefix)), None
    )
    if kind is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        kind = DatabaseUnavailable
    if kind is None:
        return None
    if kind is DatabaseUnavailable:
        return kind(f"PostgreSQL at {where} is unavailable: {first_line(exc)}")
    return kind(f"PostgreSQL at {where}: {first_line(exc)}")
