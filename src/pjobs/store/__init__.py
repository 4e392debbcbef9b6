"""The store: every database call pjobs makes about jobs, behind one interface with a
SQLite and a PostgreSQL implementation (`sqlite`, `postgres`), named SQL per dialect
(`sql/<dialect>/*.sql`), migrations, and the one table of driver errors (`errors`). The
worker and the control plane know no SQL; this layer knows no domain. Here: open the store
a database URL names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pjobs.store.base import SqlStore as Store

if TYPE_CHECKING:
    from pjobs.settings.dburl import DatabaseURL

__all__ = ["Store", "open_store"]


def open_store(
    url: DatabaseURL, *, pool_size: int = 4, check_schema: bool = True, create: bool | None = None
) -> Store:
    """Connect to the database. SQLite migrates itself; PostgreSQL must be current
    (`pjobs db upgrade`) unless `check_schema` is False. A missing SQLite file is created
    if `create`, or (None) if nothing says it existed (`sqlite.used_before`)."""
    from pjobs.timeutil import utcnow

    store: Store
    if url.dialect == "sqlite":
        from pjobs.store.sqlite import SQLiteStore

        store = SQLiteStore(url.target, create)
    else:
        from pjobs.store.postgres import PostgresStore

        store = PostgresStore(url.target, url.redacted(), pool_size=pool_size)
    if check_schema:
        try:
            store.ensure_schema(utcnow(), upgrade=url.dialect == "sqlite")
        except BaseException:
            store.close()
            raise
    return store
