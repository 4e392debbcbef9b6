"""pjobs for the platform's other Python services: enqueue a job on your own PostgreSQL
connection, in your own transaction, and read what the platform's data layer reads of a
project. This is a stable surface (`__all__`; its test pins it).

    from pjobs import client

    with psycopg.connect(url) as conn:           # one transaction: both or neither
        conn.execute("INSERT INTO projects_of_gateway …")
        job_id = client.enqueue("provision_project", {...}, connection=conn)

Without `connection`, `enqueue` opens one to `database_url` (else the configured
database: `PJOBS_DATABASE_URL`, the config file) and commits. Jobs are enqueued by the
database's `pjobs_enqueue` function (`pjobs db upgrade` makes it): unknown types and
options out of range are refused there (InvalidInputError); a payload that does not fit
its type fails when a worker claims it, for good, its field named (`pjobs jobs show`).
The readers take a project id and return plain data (None: no such project).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from pjobs.app import App
    from pjobs.control import ControlTx

__all__ = [
    "enqueue",
    "project_baseline",
    "project_details",
    "project_metrics",
    "project_owner",
]

ENQUEUE = "SELECT pjobs_enqueue(%s, %s::jsonb, %s, %s, %s, %s, %s)"


def enqueue(
    job_type: str,
    payload: Mapping[str, Any],
    *,
    connection: psycopg.Connection[Any] | None = None,
    database_url: str | None = None,
    queue: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
) -> int:
    """Enqueue a job; its id (that of the queued or running job holding
    `idempotency_key`, if one does). On `connection`: in its transaction, left open (the
    job exists once the caller commits; workers are woken then)."""
    import json

    import psycopg

    from pjobs.errors import InvalidInputError

    text = json.dumps(dict(payload))
    params = (job_type, text, queue, run_at, max_attempts, priority, idempotency_key)
    try:
        if connection is not None:
            row = connection.execute(ENQUEUE, params).fetchone()
        else:
            with psycopg.connect(_database_url(database_url)) as conn:
                row = conn.execute(ENQUEUE, params).fetchone()
    except psycopg.errors.InvalidParameterValue as exc:  # refused by pjobs_enqueue
        raise InvalidInputError(str(exc.diag.message_primary or exc)) from None
    assert row is not None
    return int(row[0])


def project_details(project_id: str, *, database_url: str | None = None) -> dict[str, Any] | None:
    """A project's record: name, owner, region, plan, status, protection, times."""
    with _read(database_url) as (tx, _):
        project = tx.projects.get(project_id)
        return None if project is None else _plain(project)


def project_owner(project_id: str, *, database_url: str | None = None) -> dict[str, Any] | None:
    """The owner of a project: id, email, Telegram chat (None: no such project)."""
    with _read(database_url) as (tx, _):
        project = tx.projects.get(project_id)
        owner = None if project is None else tx.owners.get(project.owner_id)
        return None if owner is None else _plain(owner)


def project_metrics(project_id: str, *, database_url: str | None = None) -> dict[str, float]:
    """A project's traffic over the abuse window (`abuse.window_seconds`): requests,
    errors, requests_per_minute, error_rate, baseline_requests_per_minute."""
    from pjobs.domain import abuse

    with _read(database_url) as (tx, app):
        return abuse.measured(tx, project_id, tx.now, app.settings.abuse.window_seconds)


def project_baseline(project_id: str, *, database_url: str | None = None) -> float | None:
    """A project's usual requests a minute (the median of its recent days; None: none
    computed yet)."""
    with _read(database_url) as (tx, _):
        return tx.usage.baseline_of(project_id)


def _database_url(given: str | None) -> str:
    if given is not None:
        return given
    from pjobs.settings.config import load_settings
    from pjobs.settings.dburl import database_url

    url = database_url(load_settings(None))
    if url.dialect != "postgresql":
        from pjobs.errors import ConfigError

        raise ConfigError("pjobs.client enqueues on PostgreSQL; the database configured is not")
    return url.target


@contextmanager
def _read(given: str | None) -> Iterator[tuple[ControlTx, App]]:
    from pjobs.app import App
    from pjobs.control import ControlPlane
    from pjobs.settings.config import load_settings

    settings = load_settings(None, **({"database_url": given} if given else {}))
    app = App(settings)
    try:
        with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
            yield tx, app
    finally:
        app.close()


def _plain(record: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(record)
