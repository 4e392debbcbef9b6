"""Every command that prints takes --json and prints one JSON document on stdout, on a
database with some data in it; the list below covers the whole command tree (serve
excepted: it prints no data)."""

from __future__ import annotations

import json
from typing import Any

from conftest import CLI, ON_SQLITE_ONLY

SKIPPED = {"serve", "jobs tail", "events tail", "top"}  # lines followed until Ctrl-C


def run(cli: CLI, *args: str, code: int = 0, stdin: str | None = None) -> Any:
    done = cli(*args, "--json", input=stdin)
    assert done.returncode == code, (args, done.stderr)
    if code:  # an error: one line on stderr, nothing on stdout
        assert done.stdout == "" and done.stderr.count("\n") == 1, done
        return None
    return json.loads(done.stdout)  # one document: extra output would not parse


def command_paths() -> set[str]:
    import typer.main

    from pjobs.cli import register

    def walk(command: Any, path: list[str]) -> Any:
        for name, sub in getattr(command, "commands", {}).items():
            if hasattr(sub, "commands"):
                yield from walk(sub, [*path, name])
            else:
                yield " ".join([*path, name])

    return set(walk(typer.main.get_command(register()), []))


@ON_SQLITE_ONLY
def test_every_command_prints_one_json_document(cli: CLI) -> None:
    cli = CLI({**cli.env, "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]'}, cli.logs)
    seen: set[str] = set()

    def j(*args: str, code: int = 0, stdin: str | None = None) -> Any:
        words = [a for a in args if not a.startswith("-")]
        for length in (2, 1):
            if " ".join(words[:length]) in paths:
                seen.add(" ".join(words[:length]))
                break
        return run(cli, *args, code=code, stdin=stdin)

    paths = command_paths()
    made = j("provision", "proj-json", "--name", "Json", "--owner", "o-1")
    secret = made["secrets"]
    key_id = next(k["id"] for k in j("keys", "list", "proj-json")["keys"] if k["kind"] == "secret")
    j("provision", "proj-gone", "--name", "Gone", "--owner", "o-1")
    j("deprovision", "proj-gone", "--yes")
    j("rotate-key", key_id, "--grace", "1h")
    j("keys", "verify", stdin=next(iter(secret.values())))
    j("keys", "expire", "--dry-run")
    assert j("owners", "set", "o-2", "--email", "ops@example.com", "--dry-run")["email"]
    j("owners", "set", "o-2", "--email", "ops@example.com")
    j("owners", "list")
    j("projects", "list")
    j("projects", "show", "proj-json")
    j("projects", "protect", "proj-json")
    j("projects", "unprotect", "proj-json")
    j("usage", "record", "proj-json", "--metric", "requests=5")
    line = json.dumps({"project": "proj-json", "metric": "requests", "value": 1})
    j("usage", "import", "-", stdin=line + "\n")
    j("usage", "show", "proj-json")
    j("quotas", "set", "proj-json", "requests", "1000", "--hard")
    j("quotas", "show", "proj-json")
    j("quotas", "unset", "proj-json", "requests")
    j("check-limits", "--all")
    j("scan-abuse", "--all")
    j("suspend", "proj-json", "--reason", "checking")
    page = j("projects", "describe", "proj-json")
    assert page["suspension"]["reason"] == "checking" and page["suspension"]["by"]
    j("resume", "proj-json")
    actions = [e["what"] for e in j("projects", "timeline", "proj-json")["events"]]
    assert actions[:1] == ["project.created"] or "project.provisioned" in actions, actions
    assert "project.suspended" in actions and "project.resumed" in actions
    j("abuse", "list", "--project", "proj-json")
    j("quotas", "checks")
    endpoint = j("webhooks", "add", "proj-json", "http://127.0.0.1:9/hook")["id"]
    j("webhooks", "list")
    j("webhooks", "show", endpoint)
    j("webhooks", "disable", endpoint)
    j("webhooks", "enable", endpoint)
    j("webhooks", "rotate-secret", endpoint, "--grace", "1h")
    j("deliver-webhook", endpoint, "--event", "webhook.test", "--enqueue")
    delivery = j("webhooks", "deliveries", endpoint)["deliveries"][0]["id"]
    j("webhooks", "replay", delivery, "--dry-run")
    j("events", "list")
    j("webhooks", "remove", endpoint, "--yes")
    backup = j("export-backup", "proj-json")["result"]["backup_id"]
    j("backups", "list")
    j("backups", "show", backup)
    j("backups", "verify", backup)
    j("backups", "restore", backup, "--into", "proj-json", "--dry-run")
    j("backups", "prune", "--keep", "1", "--dry-run")
    assert j("jobs", "enqueue", "noop", "--count", "3", "--dry-run")["count"] == 3
    job = j("jobs", "enqueue", "noop", "--delay", "1h")["id"]
    j("jobs", "list")
    j("jobs", "show", str(job))
    j("jobs", "stats")
    j("jobs", "cancel", str(job))
    j("jobs", "retry", str(job))
    j("jobs", "purge", "--dry-run")
    j("schedules", "list")
    j("schedules", "run", "expire-keys")
    j("alerts", "list")
    j("alerts", "show", "1", code=4)
    j("audit", "list")
    j("notifications", "list")
    j("notifications", "send", "--dry-run")
    j("notifications", "send")
    j("config", "show")
    j("config", "profiles")
    j("db", "status")
    j("db", "upgrade")
    before = j("jobs", "stats")["states"]
    j("jobs", "enqueue", "noop", "--dry-run")
    assert j("jobs", "stats")["states"] == before  # a dry run changes nothing
    assert paths - SKIPPED - seen == set()


@ON_SQLITE_ONLY
def test_one_rule_for_unknown_projects_and_text_for_people(cli: CLI) -> None:
    made = cli("provision", "proj-rule", "--name", "Rule", "--owner", "o-1", "--json")
    assert made.returncode == 0, made.stderr
    for args in (
        ("audit", "list", "--project", "proj-nope"),
        ("events", "list", "--project", "proj-nope"),
        ("notifications", "list", "--project", "proj-nope"),
        ("webhooks", "list", "--project", "proj-nope"),
        ("keys", "list", "proj-nope"),
        ("projects", "show", "proj-nope"),
    ):
        done = cli(*args)
        assert done.returncode == 4 and done.stderr == "pjobs: no project proj-nope\n", args
    assert cli("projects", "show", "../../etc").returncode == 65
    status = cli("db", "status").stdout
    assert "pending:  none" in status and "current:  yes" in status, status
    key = json.loads(cli("keys", "list", "proj-rule", "--json").stdout)["keys"][0]["id"]
    planned = cli("rotate-key", key, "--dry-run").stdout
    assert "mark it expiring for 24h" in planned, planned
