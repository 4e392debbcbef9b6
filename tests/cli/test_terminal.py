"""What README promises about the terminal: tables on a TTY, tab-separated text without
one, no colors with NO_COLOR or --no-color, and exit 130 (with the attempt recorded as
interrupted) when Ctrl-C stops a command."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from conftest import CLI, as_at_a_terminal
from support.terminal import on_a_terminal

COLOR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-9]|9[0-7]|4[0-9])(?:;\d+)*m")  # SGR colors


def test_tables_on_a_terminal_tab_separated_without_and_never_colored_when_asked(
    cli: CLI,
) -> None:
    assert cli("jobs", "enqueue", "noop").returncode == 0
    plain = cli("jobs", "list").stdout
    assert plain.splitlines()[0].split("\t")[:3] == ["id", "type", "state"]
    shown = on_a_terminal(CLI({k: v for k, v in cli.env.items() if k != "NO_COLOR"}, cli.logs),
                          "jobs", "list")  # fmt: skip
    assert "┃" in shown or "│" in shown  # a drawn table
    for env, args in (({"NO_COLOR": "1"}, ()), ({}, ("--no-color",))):
        base = {k: v for k, v in cli.env.items() if k != "NO_COLOR"}
        for command in (("jobs", "list"), ("jobs", "show", "1"), ("jobs", "stats")):
            out = on_a_terminal(CLI({**base, **env}, cli.logs), *args, *command)
            assert not COLOR.search(out), (env, args, command, out)


def test_ctrl_c_inline_cancels_the_job_says_where_things_are_and_the_command_again_finishes(
    cli: CLI, stub_server: Callable[..., Any]
) -> None:
    auth = stub_server(delay=30)  # a service that does not answer in time
    env = {**cli.env, "PJOBS_SERVICES__AUTH__URL": auth.url}
    process = subprocess.Popen(
        [sys.executable, "-m", "pjobs", "provision", "proj-abc", "--name", "P", "--owner", "o-1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=as_at_a_terminal,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not auth.received:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert err == (
        "pjobs: interrupted: job 1 (provision_project) is cancelled; no worker will run it; "
        "project proj-abc is provisioning. Run the same command again to finish it\n"
    )
    job = json.loads(cli("jobs", "show", "1", "--json").stdout)
    assert [a["outcome"] for a in job["attempts_log"]] == ["interrupted"]
    assert job["state"] == "cancelled"  # no serve finishes it where nobody sees the keys
    assert cli("serve", "--burst").returncode == 0
    assert json.loads(cli("jobs", "show", "1", "--json").stdout)["state"] == "cancelled"
    again = cli("provision", "proj-abc", "--name", "P", "--owner", "o-1", "--json")
    assert again.returncode == 0, again.stderr
    finished = json.loads(again.stdout)
    assert finished["result"]["status"] == "active" and len(finished["secrets"]) == 2


def test_usage_errors_are_one_plain_line_that_says_where_to_look(cli: CLI) -> None:
    cases = [
        (("jobs", "list", "--db", "sqlite:///x.db"), "global options such as --db go before"),
        (("jobz",), "No such command 'jobz'. Did you mean 'jobs'? (see `pjobs --help`)"),
        (("jobs", "enqueue"), "Missing argument 'TYPE'. (see `pjobs jobs enqueue --help`)"),
        (("jobs", "list", "--state", "nope"), "(see `pjobs jobs list --help`)"),
    ]
    for args, says in cases:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("pjobs: ") and done.stderr.count("\n") == 1, done.stderr
        assert says in done.stderr and not COLOR.search(done.stderr), done.stderr
    bare = cli("jobs")  # a group alone: its help, as a usage error
    assert bare.returncode == 2 and "Usage: pjobs jobs" in bare.stderr


def test_an_80_column_terminal_never_cuts_an_id_and_says_what_it_left_out(cli: CLI) -> None:
    made = cli("provision", "proj-narrow", "--name", "Narrow", "--owner", "o-1")
    assert made.returncode == 0, made.stderr
    keys = json.loads(cli("keys", "list", "proj-narrow", "--json").stdout)["keys"]
    shown = on_a_terminal(cli, "--no-color", "keys", "list", "proj-narrow", columns=80)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown).splitlines()  # bold is not a color
    assert all(len(line) <= 80 for line in lines), shown
    assert all(key["id"] in shown and key["prefix"] in shown for key in keys), shown
    assert "…" not in shown and "not shown: " in shown, shown  # dropped, not cut
    audit = on_a_terminal(cli, "--no-color", "audit", "list", columns=80)
    assert "project.provisioned" in audit and "data" in audit  # what it did: kept
    wide = on_a_terminal(cli, "--no-color", "audit", "list", columns=200)
    # times in one format, UTC to the second
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", wide), wide
