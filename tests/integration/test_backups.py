"""Backups on both backends: made, stored (a local folder, a stand-in Telegram Bot API on
loopback), read back, verified, restored into a fresh database with the same rows; and
what happens when a part is damaged, a program or database is missing, storage fails."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import ON_SQLITE_ONLY
from pjobs.app import App
from pjobs.backups import operations
from pjobs.backups.stream import CorruptBackup
from pjobs.control import ControlPlane
from pjobs.control.backups import Backup
from pjobs.queue.enqueue import EnqueueOptions
from pjobs.settings.config import Settings
from pjobs.settings.dburl import DatabaseURL
from pjobs.store import Store
from support.telegram_stub import TelegramStub
from support.tenant_data import ROWS, contents, fill

TOKEN = "123456:SECRET-bot-token-never-shown"
CHAT = "-1001234567890"
KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def telegram() -> Iterator[TelegramStub]:
    stub = TelegramStub(TOKEN)
    yield stub
    stub.close()


def telegram_settings(stub: TelegramStub, part_bytes: int = 4096) -> dict[str, Any]:
    return {
        "telegram": {"bot_token": TOKEN, "api_base_url": stub.url},
        "backups": {
            "storage": "telegram",
            "telegram_chat_id": CHAT,
            "part_bytes": part_bytes,
            "key": KEY,
        },
    }


def build(store: Store, settings: Settings) -> App:
    return App(settings, store=store)


def add_project(app: App, project_id: str, status: str = "active") -> DatabaseURL:
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert(project_id, project_id, "owner-1", "eu-west-1", "free")
        tx.projects.set_status(project_id, status)
    app.integrations.tenants.create(project_id)
    return app.integrations.tenants.database(project_id)


def export(app: App, project_id: str, **payload: Any) -> Any:
    job = app.queue.run_inline("export_backup", {"project_id": project_id, **payload})
    return job


def backup_record(app: App, backup_id: str) -> Backup:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        found = tx.backups.get(backup_id)
    assert found is not None
    return found


def all_backups(app: App) -> list[Backup]:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        return tx.backups.list()


@pytest.mark.parametrize("fmt", ["sql", "custom"])
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_round_trip_gives_back_every_row(
    store: Store, make_settings: Any, fmt: str, encrypted: bool
) -> None:
    settings = make_settings(backups={"key": KEY} if encrypted else {})
    app = build(store, settings)
    source = add_project(app, "proj-src")
    fill(source)
    job = export(app, "proj-src", format=fmt)
    assert job.state == "succeeded", job.last_error
    backup = backup_record(app, job.result["backup_id"])
    assert backup.state == "completed" and backup.encrypted is encrypted
    assert backup.manifest is not None
    tables = {t["name"]: t["rows"] for t in backup.manifest["tables"]}
    assert tables["people"] == ROWS
    assert (backup.manifest["encryption"] is not None) is encrypted
    stored = Path(backup.locations["parts"][0]["path"])  # type: ignore[index]
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700
    if encrypted:
        assert b"O'Brien" not in stored.read_bytes()

    target = add_project(app, "proj-copy")
    restored = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy"}
    )
    assert restored.state == "succeeded", restored.last_error
    assert restored.result["differ"] == []
    assert contents(target) == contents(source)
    app.close()


def test_telegram_parts_verify_and_restore_and_the_token_shows_nowhere(
    store: Store,
    make_settings: Any,
    telegram: TelegramStub,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    app = build(store, make_settings(**telegram_settings(telegram)))
    source = add_project(app, "proj-src")
    fill(source)
    job = export(app, "proj-src")
    assert job.state == "succeeded", job.last_error
    backup = backup_record(app, job.result["backup_id"])
    parts = backup.locations["parts"]  # type: ignore[index]
    assert len(parts) >= 3
    assert all(p["size"] <= 4096 for p in parts)
    assert [telegram.names[p["file_id"]] for p in parts][:2] == [
        f"{backup.manifest['file']}.001",  # type: ignore[index]
        f"{backup.manifest['file']}.002",  # type: ignore[index]
    ]
    downloads_before = sum(p.startswith("/file/") for p in telegram.paths)
    checked = operations.verify(app.integrations, app.settings, backup)
    assert checked["parts"] == len(parts)
    downloads = sum(p.startswith("/file/") for p in telegram.paths) - downloads_before
    manifest_parts = len(backup.locations["manifest"])  # type: ignore[index]
    assert downloads == len(parts) * 2 + manifest_parts  # checksums, then the dump opened

    target = add_project(app, "proj-copy")
    restored = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy"}
    )
    assert restored.state == "succeeded", restored.last_error
    assert contents(target) == contents(source)

    failing = failed_upload(app, telegram)
    assert failing.state == "failed" and "500" in (failing.last_error or "")
    seen = [caplog.text, *capsys.readouterr(), *recorded(app)]
    assert any("sendDocument" in p for p in telegram.paths)
    assert not [text for text in seen if "SECRET-bot-token" in text]
    app.close()


def failed_upload(app: App, telegram: TelegramStub) -> Any:
    """An export of proj-src whose upload the stand-in Bot API refuses (one attempt)."""
    telegram.fail_uploads_from = telegram.uploads + 1
    return app.queue.run_inline(
        "export_backup", {"project_id": "proj-src"}, EnqueueOptions(max_attempts=1)
    )


def recorded(app: App) -> list[str]:
    """Everything the control database holds about the jobs and what they did, as text."""
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        records = [*tx.audit.list(), *tx.notifications.list(), *tx.backups.list()]
    records += [app.queue.get(job.id) for job in app.store.list_jobs()]
    return [json.dumps(asdict(r), default=str) for r in records]


def damage(app: App, backup: Backup, telegram: TelegramStub | None, part: int) -> None:
    """Flip one byte in the middle of a stored part."""
    location = backup.locations["parts"][part - 1]  # type: ignore[index]
    if telegram is not None:
        data = bytearray(telegram.files[location["file_id"]])
        data[len(data) // 2] ^= 0x01
        telegram.files[location["file_id"]] = bytes(data)
        return
    path = Path(location["path"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["local", "telegram"])
def test_a_changed_byte_is_found_and_restore_changes_nothing(
    store: Store, make_settings: Any, telegram: TelegramStub, where: str
) -> None:
    extra = telegram_settings(telegram) if where == "telegram" else {}
    app = build(store, make_settings(**extra))
    fill(add_project(app, "proj-src"))
    backup = backup_record(app, export(app, "proj-src").result["backup_id"])
    part = 2 if where == "telegram" else 1
    damage(app, backup, telegram if where == "telegram" else None, part)
    count = len(backup.locations["parts"])  # type: ignore[index]
    with pytest.raises(CorruptBackup, match=f"part {part} of {count} does not match"):
        operations.verify(app.integrations, app.settings, backup)

    add_project(app, "proj-copy")
    before = app.integrations.tenants.tables("proj-copy")
    restored = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy"}
    )
    assert restored.state == "failed"
    assert f"backup {backup.id} is damaged" in (restored.last_error or "")
    assert app.integrations.tenants.tables("proj-copy") == before == []
    app.close()


def no_final_files(app: App) -> list[Path]:
    root = app.settings.data_dir / "backups"
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_missing_pg_dump_and_unwritable_storage_fail_cleanly(
    store: Store, make_settings: Any, tmp_path: Path, backend: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings = make_settings(backups={"local_dir": str(blocker / "backups")})
    app = build(store, settings)
    fill(add_project(app, "proj-src"))
    job = app.queue.run_inline(
        "export_backup", {"project_id": "proj-src"}, EnqueueOptions(max_attempts=1)
    )
    assert job.state == "failed" and job.attempts == 1
    assert "cannot create the backup folder" in (job.last_error or "")
    (backup,) = all_backups(app)
    assert backup.state == "failed" and "cannot create" in (backup.error or "")
    app.close()

    if backend.startswith("postgresql"):
        app = build(store, make_settings(backups={"pg_dump": str(tmp_path / "no-pg_dump")}))
        job = export(app, "proj-src")
        assert job.state == "failed" and job.attempts == 1  # not retried: a setting is wrong
        assert job.result == {"exit_code": 78}
        assert "no-pg_dump not found: install the PostgreSQL client" in (job.last_error or "")
        assert no_final_files(app) == []
        assert {b.state for b in all_backups(app)} == {"failed"}
        app.close()

        old = tmp_path / "old-pg_dump"
        old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
        old.chmod(0o755)
        app = build(store, make_settings(backups={"pg_dump": str(old)}))
        job = export(app, "proj-src")
        assert job.state == "failed" and job.result == {"exit_code": 78}
        assert "is version 9, older than the PostgreSQL server" in (job.last_error or "")
        assert "install postgresql-client-" in (job.last_error or "")
        app.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_unreachable_tenant_database_fails_and_the_owner_is_told(
    store: Store, make_settings: Any
) -> None:
    app = build(store, make_settings())
    add_project(app, "proj-src")
    app.close()
    app = build(store, make_settings(tenants={"database_url": "postgresql://127.0.0.1:1/none"}))
    job = app.queue.run_inline(
        "export_backup", {"project_id": "proj-src"}, EnqueueOptions(max_attempts=1)
    )
    assert job.state == "failed"
    assert "the tenant database is unavailable" in (job.last_error or "")
    (backup,) = all_backups(app)
    assert backup.state == "failed"
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        subjects = [n.subject for n in tx.notifications.list()]
        events = [e.action for e in tx.audit.list()]
    assert "Backup of proj-src failed" in subjects and "backup.failed" in events
    assert no_final_files(app) == []
    app.close()


def test_retention_keeps_the_newest_and_removes_what_it_prunes(
    store: Store, make_settings: Any
) -> None:
    app = build(store, make_settings(backups={"keep": 2}))
    fill(add_project(app, "proj-src"), 10)
    made = [export(app, "proj-src").result for _ in range(3)]
    assert made[2]["pruned"] == [made[0]["backup_id"]]
    states = {b.id: b.state for b in all_backups(app)}
    assert states == {
        made[0]["backup_id"]: "pruned",
        made[1]["backup_id"]: "completed",
        made[2]["backup_id"]: "completed",
    }
    files = {p.name.split(".")[0] for p in no_final_files(app)}
    assert files == {made[1]["backup_id"], made[2]["backup_id"]}
    app.close()


def test_all_enqueues_one_backup_per_active_or_suspended_project(
    store: Store, make_settings: Any
) -> None:
    app = build(store, make_settings())
    for project_id, status in [("proj-a", "active"), ("proj-s", "suspended"), ("proj-f", "failed")]:
        add_project(app, project_id, status)
    fan_out = app.queue.enqueue("export_backup", {"all": True})
    job = app.queue.run_queued(fan_out.id)
    assert job.state == "succeeded" and job.result["projects"] == 2
    made = {b.project_id: b.state for b in all_backups(app)}
    assert made == {"proj-a": "completed", "proj-s": "completed"}
    app.close()


def test_a_restore_never_replaces_a_database_that_holds_tables_without_force(
    store: Store, make_settings: Any
) -> None:
    app = build(store, make_settings())
    source = add_project(app, "proj-src")
    fill(source, 50)
    backup = backup_record(app, export(app, "proj-src").result["backup_id"])
    target = add_project(app, "proj-copy")
    fill(target, 5)
    refused = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy"}
    )
    assert refused.state == "failed" and refused.result == {"exit_code": 65}
    assert "not empty" in (refused.last_error or "")
    assert len(contents(target)["people"]) == 5
    forced = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy", "force": True}
    )
    assert forced.state == "succeeded", forced.last_error
    assert contents(target) == contents(source)
    app.close()


def test_a_storage_failure_is_retried_and_the_retry_finishes_the_same_backup(
    store: Store, make_settings: Any, telegram: TelegramStub
) -> None:
    from pjobs.queue.worker import Worker
    from pjobs.timeutil import FixedClock

    clock = FixedClock(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    app = App(make_settings(**telegram_settings(telegram, 1024)), store=store, clock=clock)
    fill(add_project(app, "proj-src"), 300)
    telegram.fail_uploads_from = 3  # two parts go up, the third is refused with a 500
    queued = app.queue.enqueue("export_backup", {"project_id": "proj-src"})
    queue = app.queue

    def burst() -> None:
        Worker(store, queue.registry, queue.settings, queue.context_for, clock, burst=True).run()

    burst()
    job = queue.get(queued.id)
    assert job.state == "queued" and job.attempts == 1 and "HTTP 500" in (job.last_error or "")
    (backup,) = all_backups(app)
    assert backup.state == "running"
    assert sorted(telegram.deleted) == [1001, 1002]  # the failed upload took its parts back

    telegram.fail_uploads_from = None
    clock.advance(timedelta(hours=1))
    burst()
    assert queue.get(queued.id).state == "succeeded"
    (again,) = all_backups(app)
    assert again.id == backup.id and again.state == "completed"
    operations.verify(app.integrations, app.settings, again)
    app.close()


def test_a_copy_that_reads_back_different_is_never_completed(
    store: Store, make_settings: Any, telegram: TelegramStub
) -> None:
    app = build(store, make_settings(**telegram_settings(telegram)))
    fill(add_project(app, "proj-src"), 100)
    telegram.corrupt_downloads = True
    job = app.queue.run_inline(
        "export_backup", {"project_id": "proj-src"}, EnqueueOptions(max_attempts=1)
    )
    assert job.state == "failed"
    assert "does not read back as written: part 1 of" in (job.last_error or "")
    (backup,) = all_backups(app)
    assert backup.state == "failed" and telegram.stored() == []  # what went up was removed
    app.close()


def test_a_restore_never_goes_into_a_control_database_or_a_foreign_one_whatever_force_says(
    store: Store, make_settings: Any, tmp_path: Path
) -> None:
    """`--into-database URL --force` with the control database's own URL, or with a
    database that holds tables pjobs did not make, is refused (65) and changes nothing."""
    from conftest import dump_database
    from pjobs.adapters.tenants import ForeignDatabase
    from pjobs.settings.dburl import database_url

    settings = make_settings()
    app = build(store, settings)
    fill(add_project(app, "proj-src"), 20)
    backup = backup_record(app, export(app, "proj-src").result["backup_id"])
    control = database_url(settings)
    url = control.target if control.dialect == "postgresql" else f"sqlite://{control.target}"
    before = dump_database(url)
    with pytest.raises(ForeignDatabase, match="pjobs control database"):
        operations.restore(app.integrations, settings, backup, control, force=True)
    assert dump_database(url) == before
    # a database of someone else's, holding a table: refused even with force
    foreign = add_project(app, "proj-other")
    if foreign.dialect == "sqlite":
        import sqlite3

        with sqlite3.connect(foreign.target) as conn:
            conn.execute("PRAGMA application_id = 0")
            conn.execute("CREATE TABLE theirs (x int)")
    else:
        import psycopg

        with psycopg.connect(foreign.target, autocommit=True) as conn:
            conn.execute(f'COMMENT ON DATABASE "{foreign.target.rsplit("/", 1)[1]}" IS NULL')
            conn.execute("CREATE TABLE theirs (x int)")
    with pytest.raises(ForeignDatabase, match="not a pjobs tenant database"):
        operations.restore(app.integrations, settings, backup, foreign, force=True)
    with pytest.raises(Exception, match="not empty"):  # without force: the usual refusal
        operations.restore(app.integrations, settings, backup, foreign, force=False)
    assert app.integrations.tenants.tables("proj-other") == ["theirs"]
    assert ForeignDatabase.exit_code == 65
    app.close()


@ON_SQLITE_ONLY
def test_a_data_folder_with_hash_and_question_mark_backs_up_and_restores_the_real_files(
    store: Store, make_settings: Any, tmp_path: Path
) -> None:
    """Paths are escaped in every `file:` URI: with `#` and `?` in the data folder, the
    backup holds the tenant's rows, and a restore's "not empty" check looks at the real
    target file."""
    settings = make_settings(data_dir=tmp_path / "data#1?x=y")
    app = build(store, settings)
    fill(add_project(app, "proj-src"), 30)
    job = export(app, "proj-src")
    assert job.state == "succeeded", job.last_error
    backup = backup_record(app, job.result["backup_id"])
    assert {t["name"]: t["rows"] for t in backup.manifest["tables"]}["people"] == 30  # type: ignore[index]
    target = add_project(app, "proj-copy")
    fill(target, 5)
    refused = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy"}
    )
    assert refused.state == "failed" and "not empty" in (refused.last_error or "")
    assert len(contents(target)["people"]) == 5
    assert not (tmp_path / "data").exists()  # nothing made outside the data folder
    app.close()


@ON_SQLITE_ONLY
def test_a_restore_removes_what_killed_restores_left_and_cleans_up_when_it_fails(
    store: Store, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    from collections.abc import Iterable

    from pjobs.backups import restore as restore_module
    from pjobs.backups.restore import remove_leftovers

    app = build(store, make_settings())
    fill(add_project(app, "proj-src"), 20)
    backup = backup_record(app, export(app, "proj-src").result["backup_id"])
    target = Path(add_project(app, "proj-copy").target)
    dead = 2**22 + 12345  # above pid_max's default: no process has it
    left = [target.parent / f".{target.name}.{dead}.ab12cd.restoring{s}" for s in ("", "-journal")]
    live = target.parent / f".{target.name}.{os.getpid()}.ef34gh.restoring"
    for path in (*left, live):
        path.write_bytes(b"x" * 100)
    restored = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy"}
    )
    assert restored.state == "succeeded", restored.last_error
    assert [p.exists() for p in left] == [False, False] and live.exists()
    live.unlink()
    # a restore that fails half way through loading the dump leaves nothing beside
    lines = restore_module._lines

    def cut_short(data: Iterable[bytes]) -> Any:
        for n, line in enumerate(lines(data)):
            if n == 40:
                raise CorruptBackup("the stream was cut")
            yield line

    monkeypatch.setattr(restore_module, "_lines", cut_short)
    failed = app.queue.run_inline(
        "restore_backup", {"backup_id": backup.id, "project_id": "proj-copy", "force": True}
    )
    assert failed.state == "failed"
    assert [p.name for p in target.parent.iterdir() if ".restoring" in p.name] == []
    assert remove_leftovers(target) == []
    app.close()


def test_the_bot_token_is_hidden_in_any_form_and_a_brace_in_a_file_path_is_a_path(
    store: Store,
    make_settings: Any,
    telegram: TelegramStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Bot API error quoting the token's secret half or its percent-encoded form reaches
    no stored error and no log line; getFile's `file_path` is used as a path (a brace in it
    is no template)."""
    from urllib.parse import quote

    caplog.set_level("DEBUG")
    telegram.file_dir = "docs{0}{token}"
    app = build(store, make_settings(**telegram_settings(telegram)))
    fill(add_project(app, "proj-src"), 10)
    job = export(app, "proj-src")
    assert job.state == "succeeded", job.last_error
    backup = backup_record(app, job.result["backup_id"])
    assert operations.verify(app.integrations, app.settings, backup)["parts"] >= 1
    half = TOKEN.split(":", 1)[1]
    telegram.failure = f"Unauthorized: {half} / {quote(TOKEN, safe='')}"
    failing = failed_upload(app, telegram)
    assert failing.state == "failed" and "Unauthorized" in (failing.last_error or "")
    seen = [caplog.text, *recorded(app)]
    assert not [text for text in seen if half in text or "SECRET-bot" in text]
    app.close()


def test_a_backup_to_telegram_without_a_key_is_refused_unless_said(
    store: Store, make_settings: Any, telegram: TelegramStub
) -> None:
    plain = telegram_settings(telegram)
    del plain["backups"]["key"]
    app = build(store, make_settings(**plain))
    fill(add_project(app, "proj-src"), 10)
    refused = export(app, "proj-src")
    assert refused.state == "failed" and refused.result == {"exit_code": 78}
    assert "--unencrypted" in (refused.last_error or "") and telegram.uploads == 0
    said = export(app, "proj-src", unencrypted=True)
    assert said.state == "succeeded" and said.result["encrypted"] is False
    app.close()
