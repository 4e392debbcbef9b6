"""The jobs/db/serve commands as a user runs them: separate processes, exit codes, stdout."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from conftest import CLI, ON_SQLITE_ONLY, cli_env


def stats(cli: CLI) -> dict[str, object]:
    result = cli("jobs", "stats", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_thousand_noop_jobs_enqueued_then_drained(cli: CLI) -> None:
    enqueued = cli("jobs", "enqueue", "noop", "--payload", "{}", "--count", "1000")
    assert enqueued.returncode == 0, enqueued.stderr
    assert enqueued.stdout.startswith("1000 noop jobs enqueued, ids ")
    assert stats(cli)["states"] == {"queued": 1000}
    served = cli("serve", "--burst")
    assert served.returncode == 0, served.stderr
    data = stats(cli)
    assert data["states"] == {"succeeded": 1000}
    assert data["types"] == {"noop": {"succeeded": 1000}}


@ON_SQLITE_ONLY
def test_bad_input_gets_one_line_and_its_exit_code_and_changes_nothing(
    cli: CLI, tmp_path: Path
) -> None:
    assert cli("jobs", "enqueue", "noop").returncode == 0
    before = cli("jobs", "list", "--json").stdout
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"blob": "x" * 10_000_000}))
    cases = [
        (("jobs", "enqueue", "nope", "--payload", "{}"), 65, "unknown job type 'nope'"),
        (("jobs", "enqueue", "noop", "--payload", "{not json"), 65, "malformed JSON payload"),
        (("jobs", "enqueue", "shaped", "--payload", '{"count": "many"}'), 65, "count:"),
        (("jobs", "enqueue", "shaped", "--payload", "[1]"), 65, "expected a JSON object"),
        (("jobs", "enqueue", "noop", "--payload", f"@{big}"), 65, "larger than"),
        (("jobs", "enqueue", "noop", "--payload", f"@{tmp_path}/missing"), 65, "cannot read"),
        (("jobs", "enqueue", "noop", "--delay", "soon"), 65, "invalid duration"),
        (("jobs", "enqueue", "noop", "--max-attempts", "0"), 65, "max attempts"),
        (("jobs", "show", "424242"), 4, "no job 424242"),
        (("jobs", "list", "--state", "weird"), 2, ""),
        (("jobs", "frobnicate"), 2, ""),
    ]
    for args, code, text in cases:
        result = cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert "Traceback" not in result.stderr
        if text:
            assert result.stderr.startswith("pjobs: ") and text in result.stderr, result.stderr
            assert result.stderr.count("\n") == 1, result.stderr
    stdin_big = cli("jobs", "enqueue", "noop", "--payload", "-", input=big.read_text())
    assert stdin_big.returncode == 65 and "larger than" in stdin_big.stderr
    assert cli("jobs", "list", "--json").stdout == before


def test_invalid_database_urls_and_settings(tmp_path: Path) -> None:
    cli = CLI(cli_env(tmp_path, None), tmp_path / "logs")
    for url in ("mysql://x/y", "not a url", "sqlite://"):
        result = cli("--db", url, "jobs", "list")
        assert result.returncode == 78 and "invalid database URL" in result.stderr, result.stderr
    unreachable = cli("--db", "postgresql://postgres@127.0.0.1:1/none", "jobs", "list")
    assert unreachable.returncode == 69 and "unavailable" in unreachable.stderr
    assert unreachable.stderr.count("\n") == 1
    bad = CLI({**cli.env, "PJOBS_WORKER__CONCURRENCY": "0"}, cli.logs)("jobs", "list")
    assert bad.returncode == 78 and "worker.concurrency" in bad.stderr, bad.stderr
    config = tmp_path / "bad.toml"
    config.write_text("[worker\nconcurrency = 2\n")
    result = cli("--config", str(config), "jobs", "list")
    assert result.returncode == 78 and "not valid TOML" in result.stderr
    missing = cli("--config", str(tmp_path / "nope.toml"), "jobs", "list")
    assert missing.returncode == 78 and "does not exist" in missing.stderr
    # nothing above created the default database
    assert not (tmp_path / "xdg-data" / "pjobs").exists()


def test_default_database_is_created_private_on_first_use(tmp_path: Path) -> None:
    cli = CLI(cli_env(tmp_path, None), tmp_path / "logs")
    assert cli("jobs", "enqueue", "noop").returncode == 0
    db = tmp_path / "xdg-data" / "pjobs" / "pjobs.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_postgres_behind_schema_names_db_upgrade(tmp_path: Path, empty_pg_database: str) -> None:
    cli = CLI(cli_env(tmp_path, empty_pg_database), tmp_path / "logs")
    behind = cli("jobs", "list")
    assert behind.returncode == 78 and "pjobs db upgrade" in behind.stderr
    status = json.loads(cli("db", "status", "--json").stdout)
    assert status["current"] is False and status["pending"]
    dry = cli("db", "upgrade", "--dry-run")
    assert dry.returncode == 0 and "would apply 0001_queue" in dry.stdout
    assert cli("jobs", "list").returncode == 78
    assert cli("db", "upgrade").returncode == 0
    assert cli("db", "upgrade").stdout.strip() == "schema is current"
    assert cli("jobs", "list").returncode == 0


def test_list_show_cancel_retry_purge(cli: CLI) -> None:
    first = int(cli("jobs", "enqueue", "shaped", "-p", '{"count": 2}').stdout)
    second = json.loads(cli("jobs", "enqueue", "noop", "--json", "--priority", "5").stdout)
    assert second["created"] is True
    listed = json.loads(cli("jobs", "list", "--json", "--state", "queued").stdout)
    assert [j["id"] for j in listed["jobs"]] == [second["id"], first]
    plain = cli("jobs", "list").stdout.splitlines()
    assert plain[0].split("\t")[:4] == ["id", "type", "state", "attempts"]
    assert cli("jobs", "cancel", str(first), "--dry-run").returncode == 0
    assert json.loads(cli("jobs", "show", str(first), "--json").stdout)["state"] == "queued"
    cancelled = json.loads(cli("jobs", "cancel", str(first), "--json").stdout)
    assert cancelled["state"] == "cancelled"
    assert json.loads(cli("jobs", "retry", str(first), "--json").stdout)["state"] == "queued"
    assert cli("jobs", "retry", str(first)).returncode == 65
    assert cli("serve", "--burst").returncode == 0
    shown = json.loads(cli("jobs", "show", str(first), "--json").stdout)
    assert shown["result"] == {"doubled": 4}
    assert [a["outcome"] for a in shown["attempts_log"]] == ["succeeded"]
    assert cli("jobs", "cancel", str(first)).returncode == 65
    assert "would purge 2" in cli("jobs", "purge", "--older-than", "0s", "--dry-run").stdout
    unconfirmed = cli("jobs", "purge", "--older-than", "0s", "--json")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    purged = json.loads(cli("jobs", "purge", "--older-than", "0s", "--yes", "--json").stdout)
    assert purged["purged"] == 2
    assert json.loads(cli("jobs", "list", "--json").stdout)["jobs"] == []


def test_wait_exits_by_outcome(cli: CLI) -> None:
    timed_out = cli("jobs", "enqueue", "noop", "--wait", "--timeout", "300ms")
    assert timed_out.returncode == 75 and "still queued" in timed_out.stderr
    worker = cli.popen("serve")
    try:
        failed = cli("jobs", "enqueue", "broken", "-p", '{"count": 1}', "--wait", "--json")
        assert failed.returncode == 1, failed.stderr
        assert json.loads(failed.stdout)["state"] == "failed"
        ok = cli("jobs", "enqueue", "shaped", "-p", '{"count": 1}', "--wait", "--timeout", "20s")
        assert ok.returncode == 0, ok.stderr
        assert "succeeded" in ok.stdout
    finally:
        worker.send_signal(15)
        assert worker.wait(20) == 0, worker.output()


def test_idempotency_key_from_the_command_line(cli: CLI) -> None:
    first = cli("jobs", "enqueue", "noop", "--idempotency-key", "nightly-2026-11-29", "--json")
    again = cli("jobs", "enqueue", "noop", "--idempotency-key", "nightly-2026-11-29", "--json")
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a["created"] and not b["created"] and a["id"] == b["id"]


def test_jobs_show_prints_the_traceback_of_the_latest_failed_attempt(cli: CLI) -> None:
    enqueued = cli("jobs", "enqueue", "broken", "-p", '{"count": 1}', "--max-attempts", "1")
    assert cli("serve", "--burst").returncode == 0
    shown = cli("jobs", "show", enqueued.stdout.strip())
    assert shown.returncode == 0
    assert "traceback of attempt 1:" in shown.stdout
    assert "PermanentFailure: refused for good: x" in shown.stdout


def test_a_deleted_database_is_an_error_not_a_new_empty_one(tmp_path: Path) -> None:
    cli = CLI(cli_env(tmp_path, None), tmp_path / "logs")
    assert cli("provision", "proj-abc", "--name", "P", "--owner", "o-1").returncode == 0
    database = tmp_path / "xdg-data" / "pjobs" / "pjobs.db"
    database.unlink()
    for args in (("jobs", "stats"), ("jobs", "enqueue", "noop"), ("db", "status")):
        missing = cli(*args)
        assert missing.returncode == 69, (args, missing.stderr)
        assert f"{database} does not exist though pjobs data is beside it" in missing.stderr
        assert not database.exists()
    assert cli("db", "upgrade").returncode == 0
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert json.loads(cli("jobs", "stats", "--json").stdout)["total"] == 0


def test_dead_letters_are_retried_in_bulk(cli: CLI) -> None:
    cli.env["PJOBS_ACTOR"] = "test-operator"
    for _ in range(3):
        cli("jobs", "enqueue", "broken", "-p", '{"count": 1}', "--max-attempts", "1")
    kept = cli("jobs", "enqueue", "shaped", "-p", '{"count": 1}').stdout.strip()
    assert cli("jobs", "cancel", kept).returncode == 0
    assert cli("serve", "--burst").returncode == 0
    planned = json.loads(cli("jobs", "retry", "--state", "failed", "--dry-run", "--json").stdout)
    assert planned["dry_run"] and len(planned["jobs"]) == 3
    assert json.loads(cli("jobs", "stats", "--json").stdout)["states"]["failed"] == 3
    none = cli("jobs", "retry", "--state", "failed", "--type", "shaped", "--yes", "--json")
    assert json.loads(none.stdout)["jobs"] == []
    later = cli("jobs", "retry", "--state", "failed", "--since", "2030-01-01T00:00:00", "-y")
    assert later.returncode == 0 and later.stdout == ""
    done = json.loads(
        cli("jobs", "retry", "--state", "failed", "--type", "broken", "--yes", "--json").stdout
    )
    assert done["jobs"] == planned["jobs"]
    states = json.loads(cli("jobs", "stats", "--json").stdout)["states"]
    assert states.get("queued") == 3 and states.get("cancelled") == 1
    # the operator's changes are audited, as they asked (a dry run or nothing matched: none)
    events = json.loads(cli("audit", "list", "--json").stdout)["events"]
    audited = [(e["actor"], e["action"], e["target"], e["data"].get("count")) for e in events]
    assert sorted(audited, key=lambda e: e[1]) == [
        ("test-operator", "job.cancelled", f"job:{kept}", None),
        ("test-operator", "jobs.retry", None, 3),
    ]
    for args, code in [
        (("jobs", "retry"), 2),
        (("jobs", "retry", "1", "--state", "failed"), 2),
        (("jobs", "retry", "--state", "running"), 65),
        (("jobs", "retry", "--state", "failed", "--type", "nope"), 65),
    ]:
        assert cli(*args).returncode == code, args
