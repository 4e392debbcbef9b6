"""Start-up is a feature: `pjobs --help` and completion load no heavy module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("psycopg", "psycopg_pool", "httpx", "apscheduler", "pydantic", "pydantic_settings")


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
    "rich.table",
    "rich.progress",
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
    """A call builds only the command it runs: each must come out whole that way."""
    code = """
import json, sys
import typer.main
from pjobs import cli

def shape(command):
    subs = getattr(command, "commands", {})
    return {"params": sorted(p.name for p in command.params),
            "commands": {n: shape(c) for n, c in subs.items()}}

alone = {}
for name in cli.COMMANDS:
    cli.app.registered_commands.clear()
    cli.app.registered_groups.clear()
    cli._registered.clear()
    cli.register([name])
    alone[name] = shape(typer.main.get_command(cli.app).commands[name])
cli.app.registered_commands.clear()
cli.app.registered_groups.clear()
cli._registered.clear()
whole = typer.main.get_command(cli.register())
print(json.dumps([alone, {n: shape(c) for n, c in whole.commands.items()}]))
"""
    # a module is imported once a process: each command is built alone in a process of
    # its own, so that no other command's module has added to its group
    import pjobs.cli

    for name in pjobs.cli.COMMANDS:
        one = code.replace("for name in cli.COMMANDS:", f"for name in [{name!r}]:")
        result = subprocess.run(
            [sys.executable, "-c", one], capture_output=True, text=True, check=True
        )
        alone, whole = json.loads(result.stdout)
        assert alone[name] == whole[name], name
