"""Tenant databases: a SQLite file under the data directory, or a database of its own on
a PostgreSQL server. Project ids are validated before they get here, and PostgreSQL
identifiers are quoted all the same.

pjobs marks what it creates (SQLite: the file's `application_id`; PostgreSQL: a comment on
the database) and never adopts, fills or drops a database without its mark: a tenant
location that happens to be another database — the control database, say — is left as it
is. An empty one (a creation cut short) is adopted and marked."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from pjobs.errors import InvalidStateError
from pjobs.settings.dburl import DatabaseURL
from pjobs.store.files import create_private_file, read_only

PG_IDENTIFIER_MAX = 63
APPLICATION_ID = 0x706A6F62  # "pjob": SQLite files pjobs created as tenant databases
MARK = "pjobs tenant database"  # the comment on PostgreSQL databases pjobs created


class ForeignDatabase(InvalidStateError):
    """The tenant location holds a database pjobs did not create."""


def foreign(location: str) -> ForeignDatabase:
    return ForeignDatabase(
        f"{location} exists and was not created by pjobs for this project: it is left as it is"
    )


class TenantDatabases(Protocol):
    def location(self, project_id: str) -> str:
        """Where the project's database is (a path or a database name)."""

    def database(self, project_id: str) -> DatabaseURL:
        """How to connect to it (dumps and restores)."""

    def exists(self, project_id: str) -> bool: ...

    def create(self, project_id: str) -> bool:
        """Create it if missing (and mark it); True if this call created it.
        ForeignDatabase (65) if one is there that pjobs did not create."""

    def owned(self, project_id: str) -> bool:
        """It exists and carries pjobs' mark."""

    def mark(self, project_id: str) -> None:
        """Mark it as pjobs' (again: a restore may have replaced it)."""

    def apply_schema(self, project_id: str, sql: str) -> list[str]:
        """Run the schema script in one transaction; the tables that then exist."""

    def tables(self, project_id: str) -> list[str]: ...

    def drop(self, project_id: str) -> bool:
        """Remove it if present and pjobs'; True if this call removed it.
        ForeignDatabase (65) if it is not pjobs'."""


class SQLiteTenants:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, project_id: str) -> Path:
        return self.root / f"{project_id}.db"

    def location(self, project_id: str) -> str:
        return str(self._path(project_id))

    def database(self, project_id: str) -> DatabaseURL:
        return DatabaseURL("sqlite", self.location(project_id))

    def exists(self, project_id: str) -> bool:
        return self._path(project_id).exists()

    def create(self, project_id: str) -> bool:
        path = self._path(project_id)
        if path.is_symlink():
            raise foreign(str(path))
        existed = path.exists()
        create_private_file(path)
        conn = self._connect(project_id)
        try:
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                if self._has_tables(conn):
                    raise foreign(str(path))
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        finally:
            conn.close()
        return not existed

    @staticmethod
    def _has_tables(conn: sqlite3.Connection) -> bool:
        return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0)

    def owned(self, project_id: str) -> bool:
        path = self._path(project_id)
        if path.is_symlink() or not path.is_file():
            return False
        conn = read_only(path)
        try:
            return bool(conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID)
        except sqlite3.DatabaseError:
            return False  # not a SQLite file at all
        finally:
            conn.close()

    def mark(self, project_id: str) -> None:
        conn = self._connect(project_id)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        finally:
            conn.close()

    def _connect(self, project_id: str) -> sqlite3.Connection:
        return sqlite3.connect(self._path(project_id), isolation_level=None)

    def apply_schema(self, project_id: str, sql: str) -> list[str]:
        conn = self._connect(project_id)
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;COMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        return self.tables(project_id)

    def tables(self, project_id: str) -> list[str]:
        if not self.exists(project_id):
            return []
        conn = self._connect(project_id)
        try:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            ).fetchall()
        finally:
            conn.close()
        return [row[0] for row in rows]

    def drop(self, project_id: str) -> bool:
        path = self._path(project_id)
        existed = path.exists() or path.is_symlink()
        if existed and not self.owned(project_id):
            raise foreign(str(path))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return existed


class PostgresTenants:
    """Tenant databases on a PostgreSQL server, reached through `server_url` (any database
    on it that the user may connect to; CREATE DATABASE needs the CREATEDB privilege)."""

    def __init__(self, server_url: str, name_prefix: str) -> None:
        self.server_url = server_url
        self.name_prefix = name_prefix

    def location(self, project_id: str) -> str:
        name = self.name_prefix + project_id.replace("-", "_")
        if len(name) > PG_IDENTIFIER_MAX:
            # Keep long names unique within PostgreSQL's identifier limit.
            suffix = hashlib.sha256(project_id.encode()).hexdigest()[:10]
            name = f"{name[: PG_IDENTIFIER_MAX - 11]}_{suffix}"
        return name

    def _url(self, database: str) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{database}"))

    def database(self, project_id: str) -> DatabaseURL:
        return DatabaseURL("postgresql", self._url(self.location(project_id)))

    def exists(self, project_id: str) -> bool:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.location(project_id),)
            ).fetchone()
        return row is not None

    def create(self, project_id: str) -> bool:
        import psycopg
        from psycopg import sql

        created = False
        if not self.exists(project_id):
            name = sql.Identifier(self.location(project_id))
            try:
                with psycopg.connect(self.server_url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
                created = True
            except psycopg.errors.DuplicateDatabase:
                pass  # created meanwhile by another attempt
        if not self.owned(project_id):
            if self._has_relations(project_id):
                raise foreign(f"database {self.location(project_id)}")
            self.mark(project_id)
        return created

    def _has_relations(self, project_id: str) -> bool:
        import psycopg

        with psycopg.connect(self._url(self.location(project_id)), connect_timeout=10) as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_%'"
            ).fetchone()
        return bool(found and found[0] > 0)

    def owned(self, project_id: str) -> bool:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (self.location(project_id),),
            ).fetchone()
        return row is not None and row[0] == f"{MARK} {project_id}"

    def mark(self, project_id: str) -> None:
        import psycopg
        from psycopg import sql

        query = sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(self.location(project_id)), sql.Literal(f"{MARK} {project_id}")
        )
        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(query)

    def apply_schema(self, project_id: str, sql: str) -> list[str]:
        import psycopg

        with psycopg.connect(self._url(self.location(project_id)), connect_timeout=10) as conn:
            conn.execute(sql.encode())  # one transaction: committed when the block ends
        return self.tables(project_id)

    def tables(self, project_id: str) -> list[str]:
        import psycopg

        if not self.exists(project_id):
            return []
        with psycopg.connect(self._url(self.location(project_id)), connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        return [row[0] for row in rows]

    def drop(self, project_id: str) -> bool:
        import psycopg
        from psycopg import sql

        existed = self.exists(project_id)
        if not existed:
            return False
        if not self.owned(project_id):
            raise foreign(f"database {self.location(project_id)}")
        name = sql.Identifier(self.location(project_id))
        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        return True
