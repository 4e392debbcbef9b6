"""Inputs that once crashed pjobs with "unexpected error" (exit 1): each is now one line
and its documented exit code, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CLI, ON_SQLITE_ONLY


def cases(tmp_path: Path) -> list[tuple[tuple[str, ...], dict[str, str], int, str]]:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    digits = tmp_path / "digits.json"
    digits.write_text('{"sleep_seconds": ' + "1" * 5000 + "}")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    return [
        (("jobs", "enqueue", "noop", "--delay", "99999999d"), {}, 65, "longer than 100 years"),
        (("audit", "list", "--since", "99999999999d"), {}, 65, "longer than 100 years"),
        (("jobs", "purge", "--older-than", "99999999999d"), {}, 65, "longer than 100 years"),
        (("jobs", "show", "99999999999999999999"), {}, 2, "at most 9223372036854775807"),
        (("jobs", "enqueue", "noop", "-p", f"@{deep}"), {}, 65, "nested too deeply"),
        (("jobs", "enqueue", "noop", "-p", f"@{digits}"), {}, 65, "4300 digits"),
        (("--config", str(binary), "jobs", "list"), {}, 78, "not UTF-8"),
        (("jobs", "list"), {"PJOBS_WORKER": "not json"}, 78, "PJOBS_WORKER is not JSON"),
        (("--db", "sqlite:////dev/null", "jobs", "list"), {}, 78, "not a regular file"),
    ]


def test_hostile_inputs_get_their_exit_code_and_change_nothing(cli: CLI, tmp_path: Path) -> None:
    for args, env, code, says in cases(tmp_path):
        run = CLI({**cli.env, **env}, cli.logs)
        done = run(*args)
        assert done.returncode == code, (args, done.stderr)
        assert says in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
        assert "unexpected error" not in done.stderr
    assert json.loads(cli("jobs", "list", "--json").stdout) == {"jobs": []}


@ON_SQLITE_ONLY
def test_a_too_deep_usage_line_is_a_bad_line(cli: CLI, tmp_path: Path) -> None:
    lines = tmp_path / "usage.jsonl"
    lines.write_text("[" * 30_000 + "]" * 30_000 + "\n")
    done = cli("usage", "import", str(lines))
    assert done.returncode == 65 and "line 1: not JSON: depth limit exceeded" in done.stderr


@ON_SQLITE_ONLY
@pytest.mark.parametrize(
    "env",
    [
        {"PJOBS_CONFIG": "/dev/zero"},
        {"PJOBS_TELEGRAM__BOT_TOKEN_FILE": "/dev/zero"},
        {
            "PJOBS_SERVICES__AUTH__URL": "http://127.0.0.1:9",
            "PJOBS_SERVICES__AUTH__TOKEN_FILE": "/dev/zero",
        },
        {"PJOBS_TENANTS__SCHEMA_FILE": "/dev/zero"},
    ],
)
def test_a_setting_naming_an_endless_file_is_refused_not_read(
    cli: CLI, env: dict[str, str]
) -> None:
    run = CLI({**cli.env, **env}, cli.logs)
    done = run("provision", "proj-abc", "--name", "P", "--owner", "o-1", timeout=30)
    assert done.returncode == 78, done.stderr  # a wrong setting fails the job at once
    assert "is larger than" in done.stderr, done.stderr


@ON_SQLITE_ONLY
def test_a_key_given_as_an_argument_is_refused_without_being_echoed(cli: CLI) -> None:
    key = "pjs_" + "A1b2C3d4" * 4 + "x"
    done = cli("keys", "verify", key)
    assert done.returncode == 2 and "from stdin" in done.stderr
    assert key[4:12] not in done.stderr + done.stdout


@ON_SQLITE_ONLY
@pytest.mark.parametrize(
    "env",
    [
        {"PJOBS_SERVICES__AUTH__URL": "http://user:S3cretPW@auth.example"},
        {"PJOBS_TELEGRAM__API_BASE_URL": "https://bot:S3cretPW@tg.example"},
    ],
)
def test_credentials_in_a_service_url_are_refused(cli: CLI, env: dict[str, str]) -> None:
    run = CLI({**cli.env, **env}, cli.logs)
    done = run("provision", "proj-abc", "--name", "P", "--owner", "o-1", "--dry-run")
    assert done.returncode == 78 and "may not carry credentials" in done.stderr
    assert "S3cretPW" not in done.stderr + done.stdout


def test_a_careless_database_url_changes_nothing(cli: CLI, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    import sqlite3

    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    cases = [
        ((f"--db=sqlite://{other}", "jobs", "list"), "is not a pjobs database"),
        (("--db=sqlite:///:memory:", "jobs", "enqueue", "noop"), "in-memory"),
        (("--db=sqlite://:memory:", "jobs", "enqueue", "noop"), "in-memory"),
    ]
    for args, says in cases:
        done = cli(*args)
        assert done.returncode == 78 and says in done.stderr, (args, done.stderr)
    conn = sqlite3.connect(other)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["customers"]
    conn.close()
    assert not Path("/:memory:").exists()
    empty = CLI({**cli.env, "PJOBS_DATA_DIR": ""}, cli.logs)("jobs", "list")
    assert empty.returncode == 78 and "data_dir" in empty.stderr


def test_another_applications_postgresql_database_is_not_migrated(
    cli: CLI, empty_pg_database: str
) -> None:
    import psycopg

    with psycopg.connect(empty_pg_database, autocommit=True) as pg:
        pg.execute("CREATE TABLE customers (id int)")
    upgraded = cli(f"--db={empty_pg_database}", "db", "upgrade")
    assert upgraded.returncode == 78 and "is not a pjobs database" in upgraded.stderr
    with psycopg.connect(empty_pg_database, autocommit=True) as pg:
        tables = pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert [t[0] for t in tables] == ["customers"]


@ON_SQLITE_ONLY
def test_files_open_to_other_users_are_warned_about(cli: CLI, tmp_path: Path) -> None:
    assert cli("jobs", "list").returncode == 0
    database = tmp_path / "pjobs.db"
    database.chmod(0o644)
    token = tmp_path / "token"
    token.write_text("123456:TOKEN-in-an-open-file\n")
    token.chmod(0o666)
    env = {"PJOBS_TELEGRAM__BOT_TOKEN_FILE": str(token), "PJOBS_BACKUPS__TELEGRAM_CHAT_ID": "1"}
    done = CLI({**cli.env, **env}, cli.logs)("export-backup", "--all", "--storage", "telegram",
                                             "--unencrypted", "--dry-run")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"the SQLite database {database} is open to other users (mode 0644)" in done.stderr
    assert f"chmod 600 {token}" in done.stderr
    assert "TOKEN-in-an-open-file" not in done.stderr


def test_a_large_batch_is_capped_and_printed_as_a_range_or_whole_in_json(
    cli: CLI, tmp_path: Path
) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"count": 1, "label": "x" * 100_000}))
    refused = cli("jobs", "enqueue", "shaped", "-p", f"@{big}", "--count", "5000")
    assert refused.returncode == 65 and "256 MiB" in refused.stderr
    assert json.loads(cli("jobs", "list", "--json").stdout) == {"jobs": []}
    made = json.loads(cli("jobs", "enqueue", "noop", "--count", "25000", "--json").stdout)
    ids = [job["id"] for job in made["jobs"]]
    assert len(set(ids)) == 25_000 and all(job["created"] for job in made["jobs"])
    plain = cli("jobs", "enqueue", "noop", "--count", "3").stdout
    first = max(ids) + 1
    assert plain == f"3 noop jobs enqueued, ids {first} to {first + 2}\n", plain
    stats = json.loads(cli("jobs", "stats", "--json").stdout)
    assert stats["states"]["queued"] == 25_003


@ON_SQLITE_ONLY
def test_a_symlinked_tenant_file_is_not_followed(cli: CLI, tmp_path: Path) -> None:
    assert cli("jobs", "list").returncode == 0
    elsewhere = tmp_path / "precious.db"
    elsewhere.write_bytes(b"not yours")
    tenants = tmp_path / "xdg-data" / "pjobs" / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    (tenants / "proj-link.db").symlink_to(elsewhere)
    done = cli("provision", "proj-link", "--name", "L", "--owner", "o-1")
    assert done.returncode == 65 and "was not created by pjobs" in done.stderr
    gone = cli("deprovision", "proj-link", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert elsewhere.read_bytes() == b"not yours"
