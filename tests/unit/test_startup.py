"""Start-up is a feature: `pjobs --help` and completion load no heavy module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("psycopg", "psycopg_pool", "httpx", "apscheduler", "pydantic", "jinja2", "starlette")


def test_importing_the_cli_loads_no_heavy_module() -> None:
    code = (
        "import sys, json, pjobs.cli; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(loaded.stdout) == []


NOT_ON_THE_QUICK_PATH = (
    "psycopg",
    "psycopg_pool",
    "httpx",
    "apscheduler",
    "jinja2",  # the dashboard's, loaded by `serve --http` alone
    "starlette",
    "rich.table",
    "rich.progress",
    # groups of settings nobody set are made when read, and these commands read none
    "pjobs.settings.groups",
    "pjobs.settings.limits",
)


@pytest.mark.parametrize(
    "argv", [["--help"], ["jobs", "enqueue", "noop", "--payload", "{}"], ["jobs", "--help"]]
)
def test_help_and_enqueue_import_no_driver_client_scheduler_or_table(
    argv: list[str], tmp_path: Path
) -> None:
    code = f"""
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write(
    "LOADED " + json.dumps(sorted(m for m in sys.modules if m in {NOT_ON_THE_QUICK_PATH!r}))
))
sys.argv = ["pjobs", *{argv!r}]
from pjobs.cli import main
main()
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PJOBS_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stderr.rsplit("LOADED ", 1)[1])
    assert loaded == [], loaded


def test_help_and_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pjobs", "--help"], capture_output=True, text=True, check=True
    )
    assert "Exit codes" in result.stdout and "jobs" in result.stdout
    version = subprocess.run(
        [sys.executable, "-m", "pjobs", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("pjobs ")


def test_a_command_built_alone_is_the_same_as_in_the_whole_tree() -> None:
    """A call builds only the command it runs (of a group, only the subcommand it runs):
    each must come out whole that way."""
    code = """
import json, sys
import typer.main
from pjobs import cli

def shape(command):
    subs = getattr(command, "commands", {})
    return {"params": sorted(p.name for p in command.params),
            "help": command.help,
            "commands": {n: shape(c) for n, c in subs.items()}}

def built(names, subcommand=None):
    cli.app.registered_commands.clear()
    cli.app.registered_groups.clear()
    cli._registered.clear()
    return typer.main.get_command(cli.register(names, subcommand))

name = sys.argv[1]
whole = shape(built(None).commands[name])
alone = shape(built([name]).commands[name])
subcommands = {
    sub: shape(built([name], sub).commands[name])["commands"] for sub in whole["commands"]
}
print(json.dumps([whole, alone, subcommands]))
"""
    # a module is imported once a process: each command is built alone in a process of
    # its own, so that no other command's module has added to its group
    import pjobs.cli

    for name in pjobs.cli.COMMANDS:
        result = subprocess.run(
            [sys.executable, "-c", code, name], capture_output=True, text=True, check=True
        )
        whole, alone, subcommands = json.loads(result.stdout)
        assert alone == whole, name
        for sub, commands in subcommands.items():
            assert commands == {sub: whole["commands"][sub]}, (name, sub)


def test_a_mistyped_subcommand_still_names_the_choices(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pjobs", "jobs", "enqeue", "noop"],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
    )
    assert run.returncode == 2
    assert "No such command 'enqeue'" in run.stderr


@pytest.mark.parametrize(
    ("argv", "serve"),
    [
        (["pjobs", "serve"], True),
        (["pjobs", "-v", "--db", "sqlite:///x.db", "serve", "--burst"], True),
        (["/usr/bin/pjobs", "--actor=ops", "serve"], True),
        (["pjobs", "provision", "serve", "--name", "x", "--owner", "o"], False),
        (["pjobs", "suspend", "proj-1", "--reason", "to serve spam"], False),
        (["pjobs", "audit", "list", "--project", "serve"], False),
        (["pjobs", "--anything", "serve"], False),
        (["python", "serve"], False),
    ],
)
def test_only_serve_catches_stop_signals_early(argv: list[str], serve: bool) -> None:
    """Stop signals are held back early only for serve, decided from the command as
    parsed (a command with the word `serve` among its arguments stays interruptible)."""
    from pjobs.cli.signals import runs_serve

    assert runs_serve(argv) is serve


def test_the_pjobs_program_collects_less_often_until_it_has_started() -> None:
    code = (
        "import gc, sys, json; usual = gc.get_threshold(); sys.argv = ['pjobs', 'serve'];"
        " from pjobs.cli import heap; heap.starting(sys.argv); starting = gc.get_threshold();"
        " frozen = gc.get_freeze_count(); heap.started();"
        " print(json.dumps([usual, starting, list(gc.get_threshold()), frozen,"
        " gc.get_freeze_count()]))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    usual, starting, after, frozen_before, frozen_after = json.loads(shown.stdout)
    assert starting == [100_000, 10, 10] and after == usual != starting
    assert frozen_before == 0 and frozen_after > 0  # what start-up built is frozen


def test_importing_the_cli_leaves_the_collector_as_python_has_it() -> None:
    code = (
        "import gc, json; usual = gc.get_threshold(); import pjobs.cli;"
        " print(json.dumps(gc.get_threshold() == usual))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout) is True
