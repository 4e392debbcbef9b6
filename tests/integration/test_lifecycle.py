"""Provisioning, deprovisioning and key rotation for real, on both backends: tenant
databases that exist, HTTP services and a Telegram Bot API on loopback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.domain import apikeys
from pjobs.handlers.rotate_key import expire_keys
from pjobs.queue.jobqueue import JobQueue
from pjobs.settings.config import Settings
from pjobs.store import Store
from pjobs.timeutil import FixedClock, SystemClock

PROJECT = {
    "project_id": "proj-123",
    "name": "My Project",
    "owner_id": "user-456",
    "region": "us-east-1",
    "plan": "free",
}


def queue_with(store: Store, settings: Settings, clock: Any = None) -> JobQueue:
    return App(settings, store=store, clock=clock).queue


def tenant_tables(settings: Settings, queue: JobQueue, project_id: str) -> list[str]:
    """Look inside the tenant database directly, not through pjobs' adapter."""
    from pjobs.adapters import Integrations

    location = Integrations(settings, lambda: None).tenants.location(project_id)  # type: ignore[arg-type,return-value]
    if str(settings.database_url).startswith("sqlite"):
        if not Path(location).exists():
            return []
        conn = sqlite3.connect(location)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
        return sorted(r[0] for r in rows)
    import psycopg

    from conftest import pg_databases, url_for

    if location not in pg_databases():
        return []
    with psycopg.connect(url_for(location)) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return sorted(r[0] for r in rows)


TEMPLATE_TABLES = ["app_events", "app_objects", "app_sessions", "app_users"]


def test_provision_creates_a_real_tenant_database_and_deprovision_removes_it(
    store: Store, settings: Settings
) -> None:
    queue = queue_with(store, settings)
    job = queue.run_inline("provision_project", PROJECT)
    assert job.state == "succeeded", job.last_error
    assert tenant_tables(settings, queue, "proj-123") == TEMPLATE_TABLES
    result = job.result
    assert result["status"] == "active"
    assert result["steps"] == {
        "create_database": "done",
        "apply_schema": "done",
        "register_auth": "skipped",
        "register_realtime": "skipped",
        "register_storage": "skipped",
        "generate_keys": "done",
        "activate": "done",
    }
    assert {k["kind"] for k in result["keys"]} == {"publishable", "secret"}
    revealed = queue.revealed[job.id]
    assert apikeys.check(revealed["secret_key"]) == "secret"
    assert apikeys.check(revealed["publishable_key"]) == "publishable"

    again = queue.run_inline("provision_project", PROJECT)  # idempotent: nothing new
    assert again.state == "succeeded" and queue.revealed[again.id] == {}
    assert again.result["keys"] == result["keys"]

    gone = queue.run_inline("deprovision_project", {"project_id": "proj-123"})
    assert gone.state == "succeeded", gone.last_error
    assert gone.result["status"] == "deprovisioned"
    assert tenant_tables(settings, queue, "proj-123") == []
    assert {k["status"] for k in gone.result["keys"]} == {"revoked"}
    with ControlPlane(store).tx(SystemClock().now(), write=False) as tx:
        actions = [e.action for e in reversed(tx.audit.list("proj-123"))]  # oldest first
    assert actions == [
        "project.created",
        "key.created",
        "key.created",
        "project.provisioned",
        "key.revoked_all",
        "project.deprovisioned",
    ]
    reused = queue.run_inline("provision_project", PROJECT)
    assert reused.state == "failed" and "not reused" in (reused.last_error or "")


def test_a_service_failing_twice_then_answering_is_resumed_not_repeated(
    make_settings: Callable[..., Settings],
    stub_server: Callable[..., Any],
    tenant_prefix: str,
    tmp_path: Path,
) -> None:
    auth = stub_server(script=[(500, {}), (500, {})])
    realtime, storage = stub_server(), stub_server(script=[(409, {"error": "exists"})])
    token_file = tmp_path / "storage-token"
    token_file.write_text("storage-secret-token\n")
    settings = make_settings(
        services={
            "auth": {"url": auth.url, "token": "auth-token"},
            "realtime": {"url": realtime.url},
            "storage": {"url": storage.url, "token_file": str(token_file)},
        },
        tenants={"name_prefix": tenant_prefix},
    )
    from pjobs.settings.dburl import database_url
    from pjobs.store import open_store

    store = open_store(database_url(settings))
    try:
        queue = queue_with(store, settings)
        job = queue.run_inline("provision_project", PROJECT)
        assert job.state == "succeeded", job.last_error
        assert job.attempts == 3
        attempts = store.job_attempts(job.id)
        assert [a.outcome for a in attempts] == ["failed", "failed", "succeeded"]
        assert "auth service answered PUT with HTTP 500" in (attempts[0].error or "")
        # the earlier steps ran once: the database step finished before the first failure
        with ControlPlane(store).tx(SystemClock().now(), write=False) as tx:
            steps = tx.projects.steps("proj-123")
        assert steps["create_database"].detail["created"] is True
        assert steps["create_database"].completed_at < attempts[1].started_at  # type: ignore[operator]
        assert len(auth.requests("PUT")) == 3
        assert len(realtime.requests("PUT")) == 1 and len(storage.requests("PUT")) == 1
        put = auth.received[-1]
        assert put.path == "/projects/proj-123" and put.body["owner_id"] == "user-456"
        assert put.headers["Authorization"] == "Bearer auth-token"
        assert "Authorization" not in realtime.received[0].headers
        assert storage.received[0].headers["Authorization"] == "Bearer storage-secret-token"
        assert tenant_tables(settings, queue, "proj-123") == TEMPLATE_TABLES

        gone = queue.run_inline("deprovision_project", {"project_id": "proj-123"})
        assert gone.state == "succeeded", gone.last_error
        assert [r.path for r in auth.requests("DELETE")] == ["/projects/proj-123"]
    finally:
        store.close()


def test_exhausted_attempts_mark_the_project_failed(
    make_settings: Callable[..., Settings], stub_server: Callable[..., Any], tenant_prefix: str
) -> None:
    auth = stub_server(default=(503, {}))
    settings = make_settings(
        services={"auth": {"url": auth.url}}, tenants={"name_prefix": tenant_prefix}
    )
    from pjobs.settings.dburl import database_url
    from pjobs.store import open_store

    store = open_store(database_url(settings))
    try:
        queue = queue_with(store, settings)
        from pjobs.queue.enqueue import EnqueueOptions

        job = queue.run_inline("provision_project", PROJECT, EnqueueOptions(max_attempts=2))
        assert job.state == "failed"
        with ControlPlane(store).tx(SystemClock().now(), write=False) as tx:
            project = tx.projects.get("proj-123")
            notes = tx.notifications.list("proj-123")
        assert project is not None and project.status == "failed"
        assert project.failed_step == "register_auth" and "HTTP 503" in (project.last_error or "")
        assert {n.recipient for n in notes} == {"user-456", "operators"}
        auth.default = (404, {})  # it never registered the project: gone counts as done
        cleanup = queue.run_inline("deprovision_project", {"project_id": "proj-123"})
        assert cleanup.state == "succeeded" and tenant_tables(settings, queue, "proj-123") == []
    finally:
        store.close()


def test_owner_is_notified_on_telegram_and_a_failed_send_is_retried(
    make_settings: Callable[..., Settings], stub_server: Callable[..., Any], tenant_prefix: str
) -> None:
    bot = stub_server(
        script=[(500, {"ok": False, "description": "bad gateway"})],
        default=(200, {"ok": True, "result": {}}),
    )
    settings = make_settings(
        telegram={"bot_token": "123:SECRET-BOT-TOKEN", "api_base_url": bot.url},
        notifications={"retry_base_seconds": 0.01},
        tenants={"name_prefix": tenant_prefix},
    )
    from pjobs.settings.dburl import database_url
    from pjobs.store import open_store

    store = open_store(database_url(settings))
    try:
        with ControlPlane(store).tx(SystemClock().now()) as tx:
            tx.owners.update("user-456", telegram_chat_id="424242")
        from datetime import timedelta

        from pjobs.timeutil import FixedClock

        clock = FixedClock(SystemClock().now())
        app = App(settings, store=store, clock=clock)
        job = app.queue.run_inline("provision_project", PROJECT)
        assert job.state == "succeeded"  # the failed notification did not fail the job
        with ControlPlane(store).tx(SystemClock().now(), write=False) as tx:
            (note,) = tx.notifications.list("proj-123")
        assert (note.channel, note.state, note.attempts) == ("telegram", "pending", 1)
        assert "HTTP 500" in (note.last_error or "") and "SECRET" not in (note.last_error or "")
        assert app.notifier.deliver_due() == (0, 0)  # not due before its backoff
        clock.advance(timedelta(seconds=1))
        assert app.notifier.deliver_due() == (1, 0)
        with ControlPlane(store).tx(SystemClock().now(), write=False) as tx:
            (note,) = tx.notifications.list("proj-123")
        assert note.state == "sent" and note.sent_at is not None
        sent = bot.requests("POST")
        assert sent[-1].path == "/bot123:SECRET-BOT-TOKEN/sendMessage"
        assert sent[-1].body["chat_id"] == "424242"
        assert "proj-123" in sent[-1].body["text"]
    finally:
        store.close()


def test_rotation_keeps_the_old_key_valid_until_the_grace_ends(
    store: Store, settings: Settings
) -> None:
    clock = FixedClock(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    queue = queue_with(store, settings, clock)
    job = queue.run_inline("provision_project", PROJECT)
    old_secret = queue.revealed[job.id]["secret_key"]
    old = apikeys.verify(store, old_secret, clock.now())
    assert old.verdict == "valid" and old.key is not None
    rotation = queue.run_inline("rotate_key", {"key_id": old.key.id, "grace_seconds": 3600})
    assert rotation.state == "succeeded", rotation.last_error
    new_secret = queue.revealed[rotation.id]["secret_key"]
    assert apikeys.verify(store, new_secret, clock.now()).verdict == "valid"
    assert apikeys.verify(store, old_secret, clock.now()).verdict == "expiring"

    clock.advance(timedelta(minutes=59))
    assert expire_keys(store, clock, "test") == []
    assert apikeys.verify(store, old_secret, clock.now()).verdict == "expiring"
    clock.advance(timedelta(minutes=2))
    assert apikeys.verify(store, old_secret, clock.now()).verdict == "expired"
    assert expire_keys(store, clock, "test") == [(old.key.id, "proj-123")]
    with ControlPlane(store).tx(clock.now(), write=False) as tx:
        key = tx.keys.get(old.key.id)
        new_key = tx.keys.get(rotation.result["new_key_id"])
    assert key is not None and key.status == "expired"
    assert new_key is not None and new_key.version == 2 and new_key.status == "active"

    # --now revokes at once; the same job run twice rotates once
    payload = {"key_id": new_key.id, "revoke_now": True, "new_key_id": "key_00000000000000aa"}
    first = queue.run_inline("rotate_key", payload)
    assert first.state == "succeeded"
    assert apikeys.verify(store, new_secret, clock.now()).verdict == "revoked"
    again = queue.run_inline("rotate_key", payload)
    assert again.state == "succeeded" and again.result["new_key_id"] == "key_00000000000000aa"
    with ControlPlane(store).tx(clock.now(), write=False) as tx:
        assert len(tx.keys.list("proj-123")) == 4


def test_suspended_project_and_unknown_keys(store: Store, settings: Settings) -> None:
    queue = queue_with(store, settings)
    job = queue.run_inline("provision_project", PROJECT)
    secret = queue.revealed[job.id]["secret_key"]
    now = SystemClock().now()
    with ControlPlane(store).tx(now) as tx:
        tx.projects.set_status("proj-123", "suspended")
    assert apikeys.verify(store, secret, now).verdict == "project_not_active"
    assert apikeys.verify(store, apikeys.generate("secret"), now).verdict == "unknown"
    assert apikeys.verify(store, secret[:-1], now).verdict == "malformed"


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc",
        'x"; DROP DATABASE test; --',
        "",
        "a" * 200,
        "Proj-123",
        "p1",
        "proj_123",
        "proj-123\n",
    ],
)
def test_invalid_project_ids_are_refused_before_anything(
    store: Store, settings: Settings, bad: str
) -> None:
    from pjobs.errors import InvalidInputError

    queue = queue_with(store, settings)
    with pytest.raises(InvalidInputError, match="project_id"):
        queue.run_inline("provision_project", {**PROJECT, "project_id": bad})
    assert store.list_jobs() == []
