"""Schema migrations of the control database: numbered SQL files per dialect, applied in
one transaction, recorded in `schema_migrations`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pjobs.errors import ConfigError
from pjobs.store.queries import Migration, load_migrations
from pjobs.store.records import SchemaStatus

if TYPE_CHECKING:
    from pjobs.store.base import SqlStore


def _latest(dialect: str) -> int:
    migrations = load_migrations(dialect)
    return migrations[-1].version if migrations else 0


def _check_not_newer(dialect: str, current: int) -> None:
    latest = _latest(dialect)
    if current > latest:
        raise ConfigError(
            f"the database schema is at version {current}, newer than this pjobs knows "
            f"({latest}): upgrade pjobs"
        )


def schema_status(store: SqlStore) -> SchemaStatus:
    q = store.queries
    with store.transaction(write=False) as cursor:
        cursor.execute(q["migrations_table_exists"])
        current = 0
        if bool(cursor.fetchone()[0]):
            cursor.execute(q["current_version"])
            current = int(cursor.fetchone()[0])
    pending = tuple(m for m in load_migrations(store.dialect) if m.version > current)
    return SchemaStatus(current, _latest(store.dialect), pending)


def upgrade(store: SqlStore, now: datetime) -> list[Migration]:
    """Apply pending migrations in one transaction; safe to run from many processes."""
    q = store.queries
    applied: list[Migration] = []
    with store.transaction() as cursor:
        if "lock_migrations" in q:
            cursor.execute(q["lock_migrations"])
        cursor.execute(q["migrations_table_exists"])
        if not bool(cursor.fetchone()[0]):
            cursor.execute(q["other_tables"])
            others = [row[0] for row in cursor.fetchall()]
            if others:  # another application's database: leave it as it is
                raise ConfigError(
                    f"{store.display_name} is not a pjobs database (it holds "
                    f"{', '.join(others)}): pjobs makes its schema only in a new, empty database"
                )
        cursor.execute(q["create_migrations_table"])
        cursor.execute(q["current_version"])
        current = int(cursor.fetchone()[0])
        _check_not_newer(store.dialect, current)
        for migration in load_migrations(store.dialect):
            if migration.version <= current:
                continue
            store.apply_migration(cursor, migration)
            cursor.execute(
                q["record_migration"],
                {"version": migration.version, "name": migration.name, "now": store.ts(now)},
            )
            applied.append(migration)
    return applied


def ensure_schema(store: SqlStore, now: datetime, upgrade_if_behind: bool) -> None:
    """Check the schema is current; apply pending migrations when `upgrade_if_behind`."""
    status = schema_status(store)
    _check_not_newer(store.dialect, status.current)
    if not status.pending:
        return
    if not upgrade_if_behind:
        raise ConfigError(
            f"the database schema is at version {status.current}, pjobs needs "
            f"{status.latest}: run `pjobs db upgrade`"
        )
    upgrade(store, now)
