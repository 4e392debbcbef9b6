"""Choices that are checked, and actions that say what they touch before they touch it:
plans, resume over a hard cap, restores of another project's backup, replays to a
disabled endpoint, counts confirmed before bulk removals."""

from __future__ import annotations

import json

from conftest import CLI, ON_SQLITE_ONLY
from support.terminal import on_a_terminal


def provisioned(cli: CLI, *project_ids: str, plan: str = "free") -> None:
    for project_id in project_ids:
        made = cli("provision", project_id, "--name", "P", "--owner", "o-1", "--plan", plan)
        assert made.returncode == 0, made.stderr


def status_of(cli: CLI, project_id: str) -> str:
    shown = json.loads(cli("projects", "show", project_id, "--json").stdout)
    status: str = shown["status"]
    return status


def test_a_plan_must_be_one_the_configuration_has(cli: CLI) -> None:
    gold = cli("provision", "proj-zz", "--name", "Z", "--owner", "o-1", "--plan", "gold")
    assert gold.returncode == 65
    assert "unknown plan 'gold' (configured: free, pro)" in gold.stderr
    typo = cli("provision", "proj-zz", "--name", "Z", "--owner", "o-1", "--plan", "por")
    assert typo.returncode == 65 and "did you mean pro?" in typo.stderr
    assert cli("projects", "show", "proj-zz").returncode == 4  # nothing was made
    assert "free, pro" in cli("provision", "--help").stdout

    provisioned(cli, "proj-pro", plan="pro")
    # the configuration loses the plan: the project is reported, not silently unlimited
    lost = CLI({**cli.env, "PJOBS_QUOTAS__PLANS": '{"free": {}}'}, cli.logs)
    checked = lost("check-limits", "--all", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["result"]["unknown_plans"] == ["proj-pro"]
    assert "proj-pro" in checked.stderr and "no quota applies" in checked.stderr


@ON_SQLITE_ONLY
def test_resume_of_a_project_over_its_hard_cap_asks_first(cli: CLI) -> None:
    provisioned(cli, "proj-123")
    assert cli("usage", "record", "proj-123", "-m", "requests=2000000").returncode == 0
    assert cli("check-limits", "--all").returncode == 0
    assert status_of(cli, "proj-123") == "suspended"

    script = cli("resume", "proj-123")
    assert script.returncode == 2 and "--yes" in script.stderr
    assert "still over its hard cap: requests 2,000,000 of 1,000,000" in script.stderr
    declined = on_a_terminal(cli, "resume", "proj-123", columns=80, answer="n")
    assert "pjobs quotas set proj-123" in declined and "nothing done" in declined
    assert status_of(cli, "proj-123") == "suspended"

    accepted = on_a_terminal(
        cli, "resume", "proj-123", "--reason", "owner pays", columns=80, answer="y"
    )
    assert "Resume proj-123 all the same? [y/N]" in accepted
    assert "proj-123: suspended → active (owner pays)" in accepted
    assert status_of(cli, "proj-123") == "active"

    within = cli("usage", "record", "proj-123", "-m", "requests=0")  # still over: suspend
    assert within.returncode == 0 and cli("suspend", "proj-123", "--reason", "x").returncode == 0
    scripted = cli("resume", "proj-123", "--yes")
    assert scripted.returncode == 0 and scripted.stdout == "proj-123: suspended → active\n"


def test_a_restore_of_another_projects_backup_says_whose_it_is(cli: CLI) -> None:
    provisioned(cli, "proj-a", "proj-b")
    assert cli("export-backup", "proj-a").returncode == 0
    (backup,) = json.loads(cli("backups", "list", "proj-a", "--json").stdout)["backups"]
    whose = f"{backup['id']} (a backup of proj-a)"

    planned = cli("backups", "restore", backup["id"], "--into", "proj-b", "--force", "--dry-run")
    assert planned.returncode == 0 and f"would restore {whose} into proj-b" in planned.stderr
    asked = on_a_terminal(
        cli, "backups", "restore", backup["id"], "--into", "proj-b", "--force", answer="n"
    )
    assert f"Replace what proj-b holds with backup {whose}? [y/N]" in asked
    done = cli("backups", "restore", backup["id"], "--into", "proj-b", "--force", "--yes")
    assert done.returncode == 0 and f"restored {whose}" in done.stdout
    events = json.loads(cli("audit", "list", "--json").stdout)["events"]
    (restored,) = [e for e in events if e["action"] == "backup.restored"]
    assert restored["project_id"] == "proj-b" and restored["data"]["backup_of"] == "proj-a"


def test_a_replay_to_a_disabled_endpoint_is_refused(cli: CLI) -> None:
    hooks = CLI({**cli.env, "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]'}, cli.logs)
    provisioned(hooks, "proj-123")
    added = hooks("webhooks", "add", "proj-123", "http://127.0.0.1:9/hook", "--json")
    endpoint = json.loads(added.stdout)["id"]
    assert hooks("webhooks", "disable", endpoint).returncode == 0
    before = hooks.states()
    refused = hooks("webhooks", "replay", "--endpoint", endpoint, "--state", "failed")
    assert refused.returncode == 65
    assert "is disabled" in refused.stderr and f"pjobs webhooks enable {endpoint}" in refused.stderr
    assert hooks.states() == before  # no job that could only fail


@ON_SQLITE_ONLY
def test_bulk_removals_say_how_many_and_ask_on_a_terminal(cli: CLI) -> None:
    for _ in range(3):
        assert cli("jobs", "enqueue", "noop").returncode == 0
    assert cli("serve", "--burst").returncode == 0
    asked = on_a_terminal(cli, "jobs", "purge", "--older-than", "0s", columns=80, answer="n")
    assert "Delete 3 finished job(s) older than 0s? [y/N]" in asked and "nothing done" in asked
    assert cli.states() == {"succeeded": 3}
    unasked = cli("jobs", "purge", "--older-than", "0s")
    assert unasked.returncode == 2 and cli.states() == {"succeeded": 3}
    accepted = on_a_terminal(cli, "jobs", "purge", "--older-than", "0s", answer="y")
    assert "purged 3" in accepted and cli.states() == {}

    provisioned(cli, "proj-123")
    for _ in range(2):
        assert cli("export-backup", "proj-123").returncode == 0
    asked = on_a_terminal(cli, "backups", "prune", "--keep", "1", answer="n")
    assert "Remove 1 backup(s) from storage? [y/N]" in asked
    assert len(json.loads(cli("backups", "list", "--json").stdout)["backups"]) == 2


def test_a_schedule_runs_dry(cli: CLI) -> None:
    planned = cli("schedules", "run", "check-limits", "--dry-run", "--json")
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout) == {
        "dry_run": True,
        "schedule": "check-limits",
        "job": "check_usage_limits",
    }
    assert cli.states() == {}
