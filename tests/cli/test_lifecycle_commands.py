"""provision / deprovision / rotate-key / keys / projects / audit as a user runs them."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from conftest import CLI, ON_SQLITE_ONLY, dump_database, pg_databases, url_for

PROVISION = ("provision", "proj-123", "--name", "My Project", "--owner", "user-456")


def provisioned(cli: CLI) -> dict[str, object]:
    result = cli(*PROVISION, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def everything(cli: CLI, backend: str, tmp_path: Path) -> tuple[str, object]:
    """The control database and the tenant databases, as they are."""
    if backend.startswith("sqlite"):
        tenants: object = files_under(tmp_path / "xdg-data" / "pjobs" / "tenants")
    else:
        prefix = cli.env["PJOBS_TENANTS__NAME_PREFIX"]
        tenants = {n: dump_database(url_for(n)) for n in pg_databases() if n.startswith(prefix)}
    return dump_database(backend), tenants


def test_dry_runs_change_nothing(cli: CLI, backend: str, tmp_path: Path) -> None:
    assert cli("jobs", "enqueue", "noop").returncode == 0  # the database exists
    before = everything(cli, backend, tmp_path)
    plan = cli(*PROVISION, "--dry-run", "--json")
    assert plan.returncode == 0, plan.stderr
    steps = [s["step"] for s in json.loads(plan.stdout)["plan"]]
    assert steps[0] == "create_database" and steps[-1] == "activate"
    assert everything(cli, backend, tmp_path) == before

    data = provisioned(cli)
    key_id = data["result"]["keys"][1]["id"]  # type: ignore[index]
    before = everything(cli, backend, tmp_path)
    assert before[1]  # the tenant database is there to compare
    for args in (
        ("deprovision", "proj-123", "--dry-run"),
        ("rotate-key", key_id, "--dry-run"),
        ("rotate-key", key_id, "--now", "--dry-run"),
        ("keys", "expire", "--dry-run"),
        ("jobs", "purge", "--older-than", "0s", "--dry-run"),
        ("jobs", "cancel", "1", "--dry-run"),
        (*PROVISION, "--dry-run"),
    ):
        result = cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "dry run" in result.stderr or "would" in result.stdout + result.stderr, args
    assert everything(cli, backend, tmp_path) == before


@pytest.mark.parametrize(
    "bad", ["../../etc", 'x"; DROP DATABASE test; --', "", "a" * 200, "proj/1", "proj 1"]
)
def test_invalid_project_ids_create_nothing_anywhere(
    cli: CLI, backend: str, tmp_path: Path, bad: str, tenant_prefix: str
) -> None:
    def ours() -> set[str]:
        """The databases this test could have made: its tenants' (other tests make theirs)."""
        return {name for name in pg_databases() if name.startswith(tenant_prefix)}

    sqlite_default = tmp_path / "xdg-data"
    databases = ours() if backend.startswith("postgresql") else set()
    before = files_under(tmp_path / "xdg-data") if sqlite_default.exists() else {}
    control_before = dump_database(backend) if not backend.startswith("sqlite") else None
    result = cli("provision", bad, "--name", "x", "--owner", "user-1")
    assert result.returncode == 65, result.stderr
    assert result.stderr.startswith("pjobs: ") and "project_id" in result.stderr
    assert "Traceback" not in result.stderr
    if backend.startswith("sqlite"):
        assert not Path(backend[len("sqlite://") :]).exists()  # not even the control database
        assert files_under(sqlite_default) == before if sqlite_default.exists() else True
    else:
        assert ours() == databases
        assert dump_database(backend) == control_before
    for args in (("deprovision", bad, "--yes"), ("projects", "show", bad)):
        refused = cli(*args)
        assert refused.returncode == 65, (args, refused.stderr)


def test_no_secret_is_kept_anywhere(cli: CLI, backend: str) -> None:
    first = cli("-vv", *PROVISION, "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    secrets = list(data["secrets"].values())
    key_id = next(k["id"] for k in data["result"]["keys"] if k["kind"] == "secret")
    rotated = cli("-vv", "rotate-key", key_id, "--json")
    assert rotated.returncode == 0, rotated.stderr
    secrets.extend(json.loads(rotated.stdout)["secrets"].values())
    assert len(secrets) == 3 and all(s.startswith(("pjs_", "pjp_")) for s in secrets)

    dump = dump_database(backend)
    audit = cli("audit", "list", "--json").stdout
    jobs = "".join(cli("jobs", "show", str(i), "--json").stdout for i in (1, 2))
    logs = first.stderr + rotated.stderr
    assert "DEBUG" in logs or "INFO" in logs  # the logs were really on
    for secret in secrets:
        for where, text in (("database", dump), ("audit", audit), ("jobs", jobs), ("logs", logs)):
            assert secret not in text, f"secret found in {where}"
            assert secret[12:] not in text, f"secret tail found in {where}"
        assert hashlib.sha256(secret.encode()).hexdigest() in dump


def grace_over(database: str, key_id: str) -> None:
    """Move an expiring key's end of grace into the past, in the control database."""
    past = "2000-01-01T00:00:00+00:00"
    if database.startswith("sqlite://"):
        import sqlite3

        with sqlite3.connect(database.removeprefix("sqlite://")) as conn:
            conn.execute("UPDATE api_keys SET expires_at = ? WHERE id = ?", (past, key_id))
        return
    import psycopg

    with psycopg.connect(database) as conn:
        conn.execute("UPDATE api_keys SET expires_at = %s WHERE id = %s", (past, key_id))


@ON_SQLITE_ONLY
def test_keys_verify_exit_codes(cli: CLI) -> None:
    data = provisioned(cli)
    secret = data["secrets"]["secret_key"]  # type: ignore[index]
    key_id = next(k["id"] for k in data["result"]["keys"] if k["kind"] == "secret")  # type: ignore[index]
    assert cli("keys", "verify", input=secret).returncode == 0
    changed = secret[:8] + ("A" if secret[8] != "A" else "B") + secret[9:]
    malformed = cli("keys", "verify", input=changed)
    assert malformed.returncode == 65 and "checksum" in malformed.stdout
    assert cli("keys", "verify", input="pjs_short").returncode == 65
    from pjobs.domain import apikeys

    assert cli("keys", "verify", input=apikeys.generate("secret")).returncode == 4
    rotated = json.loads(cli("rotate-key", key_id, "--grace", "1h", "--json").stdout)
    expiring = cli("keys", "verify", "--json", input=secret)
    assert expiring.returncode == 10 and json.loads(expiring.stdout)["verdict"] == "expiring"
    again = cli("rotate-key", key_id)
    assert again.returncode == 65 and "only active keys rotate" in again.stderr
    assert cli("rotate-key", "key_0123456789abcdef").returncode == 4
    assert cli("rotate-key", "not-a-key").returncode == 65
    second = rotated["secrets"]["secret_key"]
    assert cli("keys", "verify", input=second).returncode == 0
    assert cli("suspend", "proj-123", "--reason", "a test").returncode == 0
    suspended = cli("keys", "verify", "--json", input=second)
    assert suspended.returncode == 13, suspended.stdout  # valid key, project not active
    assert cli("resume", "proj-123").returncode == 0
    keys = json.loads(cli("keys", "list", "proj-123", "--json").stdout)["keys"]
    second_id = next(k["id"] for k in keys if k["kind"] == "secret" and k["status"] == "active")
    assert cli("rotate-key", second_id, "--grace", "1h").returncode == 0
    assert cli("keys", "verify", input=second).returncode == 10  # expiring: in its grace
    # its grace over (as the database says, not by waiting an hour)
    grace_over(cli.env["PJOBS_DATABASE_URL"], second_id)
    assert cli("keys", "verify", input=second).returncode == 11  # expired
    keys = json.loads(cli("keys", "list", "proj-123", "--json").stdout)["keys"]
    status = {k["id"]: k["status"] for k in keys}
    assert status[second_id] == "expired"  # as verify says, before any sweep marks it
    third_id = next(k["id"] for k in keys if k["kind"] == "secret" and k["status"] == "active")
    # the first key, replaced twice since: verify names the key active now, not the next
    first = cli("keys", "verify", input=secret)
    assert first.returncode == 10 and f"the active key is {third_id}" in first.stdout
    assert cli("deprovision", "proj-123", "--yes").returncode == 0
    assert cli("keys", "verify", input=secret).returncode == 12


@ON_SQLITE_ONLY
def test_deprovision_asks_and_projects_commands(cli: CLI) -> None:
    provisioned(cli)
    no_tty = cli("deprovision", "proj-123")
    assert no_tty.returncode == 2 and "--yes" in no_tty.stderr
    assert cli("deprovision", "proj-999", "--yes").returncode == 4
    assert cli("owners", "set", "user-456", "--telegram-chat-id", "12345").returncode == 0
    assert cli("owners", "set", "user-456", "--telegram-chat-id", "nope").returncode == 65
    listed = json.loads(cli("projects", "list", "--json", "--owner", "user-456").stdout)
    assert [p["id"] for p in listed["projects"]] == ["proj-123"]
    assert json.loads(cli("projects", "list", "--json", "--status", "failed").stdout) == {
        "projects": []
    }
    shown = json.loads(cli("projects", "show", "proj-123", "--json").stdout)
    assert shown["status"] == "active" and len(shown["keys"]) == 2
    assert cli("projects", "show", "proj-999").returncode == 4
    enqueued = cli("deprovision", "proj-123", "--yes", "--enqueue")
    assert enqueued.returncode == 0 and enqueued.stdout.strip().isdigit()
    assert cli("serve", "--burst").returncode == 0
    assert json.loads(cli("projects", "show", "proj-123", "--json").stdout)["status"] == (
        "deprovisioned"
    )
    audit = json.loads(cli("audit", "list", "--project", "proj-123", "--json").stdout)
    assert audit["events"][0]["action"] == "project.deprovisioned"  # newest first
    assert json.loads(cli("audit", "list", "--since", "1h", "--json").stdout)["events"]
    notes = json.loads(cli("notifications", "list", "--json").stdout)["notifications"]
    assert [n["subject"] for n in notes] == [  # newest first
        "Project proj-123 was removed",
        "Project proj-123 is ready",
    ]


def test_provision_waits_for_a_worker(cli: CLI) -> None:
    worker = cli.popen("serve")
    try:
        result = cli(*PROVISION, "--enqueue", "--wait", "--timeout", "60s", "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["result"]["status"] == "active" and data["secrets"] == {}
        assert "never shown" in result.stderr
    finally:
        worker.send_signal(15)
        assert worker.wait(20) == 0, worker.output()


def test_the_audit_trail_names_who_asked(cli: CLI) -> None:
    first = cli("--actor", "alice", *PROVISION, "--json")
    assert first.returncode == 0, first.stderr
    job_id = json.loads(first.stdout)["job"]["id"]
    job = json.loads(cli("jobs", "show", str(job_id), "--json").stdout)
    assert job["requested_by"] == "alice"
    events = json.loads(cli("audit", "list", "--project", "proj-123", "--json").stdout)["events"]
    assert {e["actor"] for e in events} == {"alice"}
    assert {e["job_id"] for e in events} == {job_id}
    automation = CLI({**cli.env, "PJOBS_ACTOR": "cron:nightly"}, cli.logs)
    assert automation("owners", "set", "user-456", "--email", "o@example.com").returncode == 0
    events = json.loads(cli("audit", "list", "--json").stdout)["events"]
    assert events[0]["actor"] == "cron:nightly" and events[0]["job_id"] is None
    for bad in ("al\x1bice", "bob\n", ""):
        refused = cli("--actor", bad, "jobs", "list")
        assert refused.returncode == 78 and "actor" in refused.stderr, refused.stderr


def test_a_rotation_that_lost_a_race_is_refused_with_65(cli: CLI) -> None:
    data = provisioned(cli)
    key_id = data["result"]["keys"][1]["id"]  # type: ignore[index]
    first = cli("rotate-key", key_id, "--enqueue")
    assert first.returncode == 0, first.stderr
    second = cli.popen("rotate-key", key_id, "--enqueue", "--wait", "--timeout", "60s")

    deadline = time.monotonic() + 30
    while len(json.loads(cli("jobs", "list", "--type", "rotate_key", "--json").stdout)["jobs"]) < 2:
        assert time.monotonic() < deadline, second.output()
        time.sleep(0.05)
    assert cli("serve", "--burst", "--concurrency", "1").returncode == 0  # in order
    assert second.wait(60) == 65, second.output()
    assert "only active keys rotate" in second.output()


@ON_SQLITE_ONLY
def test_a_protected_project_is_deprovisioned_only_with_force(cli: CLI) -> None:
    provisioned(cli)
    assert cli("projects", "protect", "proj-123").returncode == 0
    refused = cli("deprovision", "proj-123", "--yes")
    assert refused.returncode == 65 and "is protected" in refused.stderr
    queued = cli("deprovision", "proj-123", "--yes", "--enqueue", "--force")
    assert queued.returncode == 0
    job_id = queued.stdout.strip()
    # a worker refuses it too when the request did not say --force
    sneaked = cli("jobs", "enqueue", "deprovision_project", "-p", '{"project_id": "proj-123"}')
    assert cli("jobs", "cancel", job_id).returncode == 0
    assert cli("serve", "--burst").returncode == 0
    job = json.loads(cli("jobs", "show", sneaked.stdout.strip(), "--json").stdout)
    assert job["state"] == "failed" and "is protected" in job["last_error"]
    assert json.loads(cli("projects", "show", "proj-123", "--json").stdout)["status"] == "active"
    forced = cli("deprovision", "proj-123", "--yes", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(cli("projects", "show", "proj-123", "--json").stdout)["status"] == (
        "deprovisioned"
    )
