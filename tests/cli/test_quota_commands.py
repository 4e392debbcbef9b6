"""usage / quotas / check-limits / suspend / scan-abuse / resume as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import CLI, ON_SQLITE_ONLY, dump_database

PROVISION = ("provision", "proj-123", "--name", "My Project", "--owner", "user-456")


def provisioned(cli: CLI, *projects: str) -> None:
    for project_id in projects or ("proj-123",):
        result = cli("provision", project_id, "--name", "P", "--owner", "user-456")
        assert result.returncode == 0, result.stderr


def active_projects(database: str, tmp_path: Path, projects: list[str]) -> None:
    """Active projects, recorded straight in the control database."""
    from pjobs.app import App
    from pjobs.control import ControlPlane
    from pjobs.settings.config import Settings

    app = App(Settings(database_url=database, data_dir=tmp_path / "data"))
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.owners.ensure("user-456")
        for project_id in projects:
            tx.projects.insert(project_id, "P", "user-456", "eu-west-1", "free")
            tx.projects.set_status(project_id, "active")
    app.close()


def test_dry_runs_change_nothing_and_exit_3_when_they_find_something(
    cli: CLI, backend: str
) -> None:
    provisioned(cli)
    for args in (
        ("check-limits", "--all", "--dry-run"),
        ("scan-abuse", "--all", "--dry-run"),
        ("suspend", "proj-123", "--pattern", "error_spike", "--dry-run"),
    ):
        assert cli(*args).returncode == 0, args  # nothing to find yet
    assert cli("quotas", "set", "proj-123", "requests", "100", "--hard").returncode == 0
    assert (
        cli("usage", "record", "proj-123", "-m", "requests=150", "-m", "errors=120").returncode == 0
    )
    before = dump_database(backend)
    for args in (
        ("check-limits", "--all", "--dry-run"),
        ("check-limits", "proj-123", "--dry-run", "--json"),
        ("scan-abuse", "--all", "--dry-run"),
        ("suspend", "proj-123", "--pattern", "error_spike", "--dry-run"),
        ("suspend", "proj-123", "--reason", "phishing", "--dry-run"),
        ("usage", "record", "proj-123", "-m", "requests=1", "--dry-run"),
        ("quotas", "set", "proj-123", "requests", "5", "--dry-run"),
        ("quotas", "unset", "proj-123", "requests", "--dry-run"),
        ("resume", "proj-123", "--dry-run"),
        ("projects", "protect", "proj-123", "--dry-run"),
    ):
        result = cli(*args)
        expected = 3 if args[0] in ("check-limits", "scan-abuse", "suspend") else 0
        assert result.returncode == expected, (args, result.stdout, result.stderr)
    assert dump_database(backend) == before
    plan = json.loads(cli("check-limits", "proj-123", "--dry-run", "--json").stdout)
    assert plan["findings"][0]["action"] == "suspend" and plan["dry_run"] is True
    enforced = cli("check-limits", "--all", "--json")
    assert enforced.returncode == 0 and json.loads(enforced.stdout)["result"]["suspended"] == 1
    assert json.loads(cli("projects", "show", "proj-123", "--json").stdout)["status"] == "suspended"


@ON_SQLITE_ONLY
def test_bad_input_gets_its_exit_code_and_changes_nothing(
    cli: CLI, backend: str, tmp_path: Path
) -> None:
    provisioned(cli)
    lines = tmp_path / "usage.jsonl"
    lines.write_text(
        '{"project": "proj-123", "metric": "requests", "value": 10}\n'
        '{"project": "proj-123", "metric": "requests", "value": -1}\n'
        "not json\n"
        '{"project": "proj-nope", "metric": "requests", "value": 1}\n'
    )
    before = dump_database(backend)
    cases = [
        (("usage", "record", "proj-nope", "-m", "requests=1"), 4, "no project proj-nope"),
        (("usage", "record", "proj-123", "-m", "frobs=1"), 65, "unknown metric 'frobs'"),
        (("usage", "record", "proj-123", "-m", "requests=lots"), 65, "not a number"),
        (("usage", "record", "proj-123", "-m", "requests=-5"), 65, "≥ 0"),
        (("usage", "record", "../etc", "-m", "requests=1"), 65, "invalid project id"),
        (("usage", "show", "proj-123", "--period", "2026-13"), 65, "invalid period"),
        (("quotas", "set", "proj-123", "requests", "-1"), 65, "≥ 0"),
        (("quotas", "set", "proj-123", "requests", "many"), 65, "not a number"),
        (("quotas", "set", "proj-123", "frobs", "10"), 65, "unknown metric"),
        (("quotas", "set", "proj-nope", "requests", "10"), 4, "no project"),
        (("check-limits", "--all", "--period", "2026-13"), 65, "period"),
        (("check-limits",), 2, "--all"),
        (("suspend", "proj-123"), 2, "--pattern"),
        (("suspend", "proj-123", "--pattern", "weird"), 65, "pattern"),
        (("suspend", "proj-nope", "--reason", "x"), 4, "no project"),
        (("suspend", "proj-123", "--reason", "bad\x1b[31mreason"), 65, "reason"),
        (("resume", "proj-nope"), 4, "no project"),
        (("usage", "import", str(lines)), 65, "3 bad line(s)"),
    ]
    for args, code, text in cases:
        result = cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert text in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
    imported = cli("usage", "import", str(lines))
    assert "line 2:" in imported.stderr and "line 3:" in imported.stderr
    assert "line 4: unknown project 'proj-nope'" in imported.stderr
    assert dump_database(backend) == before


def test_usage_import_streams_json_lines_from_stdin(cli: CLI) -> None:
    provisioned(cli, "proj-aaa", "proj-bbb")
    lines = "".join(
        json.dumps(
            {"project": p, "metric": "requests", "value": 10, "time": "2026-11-02T10:00:00Z"}
        )
        + "\n"
        for p in ("proj-aaa", "proj-bbb") * 500
    )
    result = cli("usage", "import", "-", "--json", input=lines)
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert len(imported.pop("sha256")) == 64
    assert imported == {"lines": 1000, "records": 1000, "projects": 2, "dry_run": False}
    again = cli("usage", "import", "-", "--json", input=lines)
    assert again.returncode == 0 and "nothing added" in again.stderr, again.stderr
    shown = json.loads(cli("usage", "show", "proj-aaa", "--period", "2026-11", "--json").stdout)
    requests = next(m for m in shown["metrics"] if m["metric"] == "requests")
    assert requests["value"] == 5000 and requests["source"] == "plan free"


def test_two_checks_at_once_warn_each_threshold_once(tmp_path: Path, pg_database: str) -> None:
    from conftest import cli_env

    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    projects = [f"proj-c{n:02d}" for n in range(30)]
    active_projects(pg_database, tmp_path, projects)  # quicker than 30 provisions
    usage = "".join(
        json.dumps({"project": p, "metric": "requests", "value": 850_000}) + "\n" for p in projects
    )
    assert cli("usage", "import", "-", input=usage).returncode == 0
    checks = [
        subprocess.Popen(
            [sys.executable, "-m", "pjobs", "check-limits", "--all"],
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [c.communicate(timeout=60) for c in checks]
    assert [c.returncode for c in checks] == [0, 0, 0], outputs
    notes = json.loads(cli("notifications", "list", "--json").stdout)["notifications"]
    warnings = [n["subject"] for n in notes if "reached" in n["subject"]]
    assert sorted(warnings) == sorted(
        f"{p} reached 80 % of its requests hard cap (the project is suspended at 100 %)"
        for p in projects
    )
