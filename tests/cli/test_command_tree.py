"""Every command, walked: what changes something has --dry-run; what destroys asks on a
terminal and needs --yes without one; every DURATION refuses a bare number; under --json
every error is a JSON document. New commands are held to the same rules by being walked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import CLI, ON_SQLITE_ONLY
from support.terminal import on_a_terminal

# Commands that only read (by their name's last word), and `serve`, which only runs what
# the queue holds: the jobs it runs are the ones with a --dry-run.
READS = {"list", "show", "stats", "describe", "timeline", "verify", "checks", "deliveries"}
READS |= {"status", "serve", "tail", "profiles", "top"}

# What each destructive command is given here to act on something real (see `world`).
DESTRUCTIVE = {
    "deprovision": ("deprovision", "proj-a"),
    "jobs purge": ("jobs", "purge", "--older-than", "0s"),
    "jobs retry": ("jobs", "retry", "--state", "failed"),
    "backups prune": ("backups", "prune", "proj-a", "--keep", "1"),
    "backups restore": ("backups", "restore", "{backup}", "--into", "proj-a", "--force"),
    "webhooks remove": ("webhooks", "remove", "{endpoint}"),
}
# `resume` asks only for a project still over a hard cap: test_operator_safety.py.
ASKS_WHEN = {"resume"}


def commands() -> Iterator[tuple[str, Any]]:
    """(`group name`, click command) for every command that runs something."""
    import typer.main

    from pjobs.cli import register

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        subcommands = getattr(command, "commands", None)
        if not subcommands:
            yield " ".join(path), command
        for name, sub in (subcommands or {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(register()), ())


def options_of(command: Any) -> dict[str, Any]:
    return {opt: param for param in command.params for opt in getattr(param, "opts", [])}


COMMANDS = dict(commands())


def test_every_command_that_changes_something_has_a_dry_run() -> None:
    assert len(COMMANDS) > 50
    missing = [
        name
        for name, command in COMMANDS.items()
        if name.split()[-1] not in READS and "--dry-run" not in options_of(command)
    ]
    assert missing == []


def test_the_destructive_commands_are_those_with_yes() -> None:
    with_yes = {name for name, command in COMMANDS.items() if "--yes" in options_of(command)}
    assert with_yes == set(DESTRUCTIVE) | ASKS_WHEN


def in_parallel(cli: CLI, runs: list[tuple[str, ...]]) -> list[Any]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda args: cli(*args), runs))


@ON_SQLITE_ONLY
def test_every_duration_refuses_a_bare_number(cli: CLI) -> None:
    runs = [
        (*name.split(), opt, "7")
        for name, command in COMMANDS.items()
        for opt, param in options_of(command).items()
        if param.metavar == "DURATION"
    ]
    assert len(runs) >= 10
    for args, done in zip(runs, in_parallel(cli, runs), strict=True):
        assert done.returncode == 65, (args, done.stderr)
        assert f"{args[-2]}: duration '7' has no unit" in done.stderr, (args, done.stderr)


@ON_SQLITE_ONLY
def test_under_json_every_error_is_a_json_document(cli: CLI) -> None:
    unknown_option = [
        (*name.split(), "--json", "--no-such-option")
        for name, command in COMMANDS.items()
        if "--json" in options_of(command)
    ]
    assert len(unknown_option) > 50
    kinds = {
        ("projects", "show", "proj-nope", "--json"): (4, "no project proj-nope"),
        ("jobs", "enqueue", "noop", "-p", "[1]", "--json"): (65, "JSON object"),
        ("provision", "proj-x", "--name", "X", "--owner", "o", "--plan", "gold", "--json"): (
            65,
            "unknown plan 'gold'",
        ),
        ("jobs", "list", "--state", "runing", "--json"): (2, "did you mean running?"),
        ("jobs", "enqueue", "noop", "--wait", "--timeout", "1s", "--json"): (75, "still queued"),
    }
    runs = unknown_option + list(kinds)
    for args, done in zip(runs, in_parallel(cli, runs), strict=True):
        assert done.stderr.count("\n") == 1, (args, done.stderr)
        document = json.loads(done.stderr)  # one document, and nothing else
        code, message = document["error"]["code"], document["error"]["message"]
        expected = kinds.get(args, (2, ""))  # an unknown option, or a missing argument
        assert code == done.returncode == expected[0], (args, done.stderr)
        assert expected[1] in message, (args, message)


@ON_SQLITE_ONLY
def test_destructive_commands_ask_on_a_terminal_and_need_yes_without_one(cli: CLI) -> None:
    made = world(cli)
    before = state_of(cli)
    commands = [tuple(part.format(**made) for part in args) for args in DESTRUCTIVE.values()]
    for command, scripted in zip(commands, in_parallel(cli, commands), strict=True):
        assert scripted.returncode == 2, (command, scripted.stderr)
        assert "needs --yes when there is no terminal" in scripted.stderr, command
    for command in commands:
        asked = on_a_terminal(cli, *command, columns=80, answer="n")
        assert "[y/N]" in asked and "nothing done" in asked, (command, asked)
    assert state_of(cli) == before  # not one of them changed anything


def world(cli: CLI) -> dict[str, str]:
    """Something for every destructive command to act on: a project with two backups and
    a webhook endpoint, finished jobs, a failed one."""
    hooks = CLI({**cli.env, "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]'}, cli.logs)
    for args in [
        ("provision", "proj-a", "--name", "A", "--owner", "o-1"),
        ("export-backup", "proj-a"),
        ("export-backup", "proj-a"),
        ("jobs", "enqueue", "broken", "-p", '{"count": 1}'),
        ("serve", "--burst"),
    ]:
        done = hooks(*args)
        assert done.returncode in (0, 1), (args, done.stderr)
    endpoint = json.loads(
        hooks("webhooks", "add", "proj-a", "http://127.0.0.1:9/", "--json").stdout
    )
    backups = json.loads(cli("backups", "list", "proj-a", "--json").stdout)["backups"]
    return {"backup": backups[0]["id"], "endpoint": endpoint["id"]}


def state_of(cli: CLI) -> tuple[object, ...]:
    """What the destructive commands would change: the jobs, the project, its backups, its
    webhook endpoints, the audit trail."""
    return tuple(
        json.loads(cli(*args, "--json").stdout)
        for args in [
            ("jobs", "stats"),
            ("projects", "show", "proj-a"),
            ("backups", "list"),
            ("webhooks", "list", "--project", "proj-a"),
            ("audit", "list"),
        ]
    )


HELP_OF_EVERY_COMMAND = """
import json, sys
from typer.testing import CliRunner
from pjobs.cli import register
helps = {}
for name in json.loads(sys.argv[1]):
    done = CliRunner().invoke(register(), [*name.split(), "--help"], env={"COLUMNS": "80"})
    helps[name] = done.output if done.exit_code == 0 else f"exit {done.exit_code}"
print(json.dumps(helps))
"""


def helps_at_80_columns(names: list[str]) -> dict[str, str]:
    """Each command's --help at 80 columns (one process of its own: the root callback
    configures logging, which this process's tests must not inherit)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", HELP_OF_EVERY_COMMAND, json.dumps(names)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    helps: dict[str, str] = json.loads(done.stdout)
    return helps


def test_help_reads_as_an_operator_types_at_80_columns() -> None:
    groups = {name.split()[0] for name in COMMANDS if " " in name}
    helps = helps_at_80_columns(["", *sorted(groups), *COMMANDS])
    for name, text in helps.items():
        assert not text.startswith("exit "), (name, text)
        for leaked in ("<str", "<int", "<list", "<float", "<=x", "x>=", "[["):
            assert leaked not in text, (name, leaked, text)
        for line in text.splitlines():
            assert len(line) <= 80, (name, line)
            if "Example:" in line:  # an example is one line, the whole command
                assert line.strip().startswith("Example: pjobs"), (name, line)
        if "Commands:" in text:  # every summary whole: wrapped, never cut with "..."
            listed = text.split("Commands:")[1]
            assert not any(line.endswith("...") for line in listed.splitlines()), name
    assert "10 keys verify" not in helps[""]
    assert "10 expiring" in helps["keys verify"]


def test_only_the_keys_man_page_names_the_exit_codes_of_keys_verify() -> None:
    from pathlib import Path

    man = Path(__file__).parents[2] / "man"
    naming = sorted(p.name for p in man.glob("*.1") if "keys verify: expired" in p.read_text())
    assert naming == ["pjobs-keys.1"]
