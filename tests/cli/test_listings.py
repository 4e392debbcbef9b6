"""Listings as an operator reads them: the acted-on column at 80 columns, chosen columns,
pages that reach every row, --watch on a terminal and in a pipe, tails that follow new
records, and cron runs that say something only when something was done."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from conftest import CLI, ON_SQLITE_ONLY, as_at_a_terminal
from support.terminal import on_a_terminal
from support.waiting import until


def test_a_narrow_terminal_keeps_the_column_an_operator_acts_on(cli: CLI) -> None:
    assert cli("jobs", "enqueue", "broken", "-p", '{"count": 1, "label": "why"}').returncode == 0
    assert cli("serve", "--burst").returncode == 0
    narrow = on_a_terminal(cli, "--no-color", "jobs", "list", columns=80)
    assert "last_error" in narrow and "refused for good: why" in narrow, narrow
    assert "priority" not in narrow  # -o wide shows it
    wide = cli("jobs", "list", "-o", "wide").stdout.splitlines()[0].split("\t")
    assert {"queue", "priority", "requested_by"} <= set(wide)
    chosen = cli("jobs", "list", "--columns", "state,id").stdout.splitlines()
    assert chosen == ["state\tid", "failed\t1"]
    typo = cli("jobs", "list", "--columns", "id,stat")
    assert typo.returncode == 65 and "no column 'stat'" in typo.stderr
    assert "did you mean state?" in typo.stderr


@ON_SQLITE_ONLY
def test_pages_reach_the_oldest_audit_event(cli: CLI) -> None:
    from pjobs.control import ControlPlane
    from pjobs.settings.config import load_settings
    from pjobs.settings.dburl import database_url
    from pjobs.store import open_store

    assert cli("jobs", "enqueue", "noop").returncode == 0  # the database exists
    settings = load_settings(None, database_url=cli.env["PJOBS_DATABASE_URL"])
    store = open_store(database_url(settings))
    with ControlPlane(store).tx(datetime.now(UTC), write=True) as tx:
        changes = [(None, f"target-{n}", {"n": n}) for n in range(1005)]
        tx.audit.append_many("test", "test.event", changes, None)
    store.close()

    first = cli("audit", "list", "--json")
    ids = [e["id"] for e in json.loads(first.stdout)["events"]]
    assert len(ids) == 1000 and ids == sorted(ids, reverse=True)  # newest first
    table = cli("audit", "list")
    assert "1000 shown; the next ones: --offset 1000" in table.stderr
    rest = json.loads(cli("audit", "list", "--offset", "1000", "--json").stdout)["events"]
    assert [e["data"]["n"] for e in rest] == [4, 3, 2, 1, 0]  # the oldest, reached
    assert set(ids).isdisjoint(e["id"] for e in rest)


def test_watch_in_a_pipe_writes_a_line_per_change_until_ctrl_c(cli: CLI) -> None:
    watching = cli.popen("jobs", "list", "--watch", "0.2")
    try:
        until(lambda: watching.output().startswith("id\t"), what="the header")
        job = cli("jobs", "enqueue", "noop").stdout.strip()
        until(lambda: f"\n{job}\tnoop\tqueued" in watching.output(), what="the new job")
        assert cli("serve", "--burst").returncode == 0
        until(lambda: f"\n{job}\tnoop\tsucceeded" in watching.output(), what="its change")
    finally:
        watching.send_signal(signal.SIGINT)
    assert watching.wait(10) == 0  # Ctrl-C is how a watch ends
    lines = watching.output().splitlines()
    assert lines[0].startswith("id\t") and lines.count(lines[0]) == 1
    states = [line.split("\t")[2] for line in lines if line.startswith(f"{job}\t")]
    # a line per change: queued, then succeeded (running too, if a refresh saw it)
    assert states in (["queued", "succeeded"], ["queued", "running", "succeeded"]), states


def test_watch_on_a_terminal_redraws(cli: CLI) -> None:
    leader, follower = pty.openpty()
    env = {**cli.env, "COLUMNS": "80"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pjobs", "jobs", "stats", "--watch", "0.2"],
        env=env, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
        preexec_fn=as_at_a_terminal,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    while seen.count(b"Ctrl-C ends it") < 2 and time.monotonic() < deadline:
        if select.select([leader], [], [], 1)[0]:
            seen += os.read(leader, 65536)
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
    os.close(leader)
    assert seen.count(b"\x1b[H\x1b[2J") >= 2 and b"(all)" in seen  # drawn again, whole


def test_tails_follow_new_jobs_their_changes_and_new_events(cli: CLI) -> None:
    assert cli("provision", "proj-t", "--name", "T", "--owner", "o-1").returncode == 0
    jobs = cli.popen("jobs", "tail", "--last", "0")
    events = cli.popen("events", "tail", "--last", "1")
    try:
        until(lambda: "project.provisioned" in events.output(), what="the last event")
        until(lambda: jobs.output().startswith("id\t"), what="the jobs header")
        job = cli("jobs", "enqueue", "noop").stdout.strip()
        until(lambda: f"\n{job}\tnoop\tqueued" in jobs.output(), what="the new job")
        assert cli("serve", "--burst").returncode == 0
        until(lambda: f"\n{job}\tnoop\tsucceeded" in jobs.output(), what="its change")
        assert cli("suspend", "proj-t", "--reason", "tail").returncode == 0
        until(lambda: "project.suspended\tproj-t" in events.output(), what="the new event")
    finally:
        jobs.send_signal(signal.SIGINT)
        events.send_signal(signal.SIGINT)
    assert jobs.wait(10) == 0 and events.wait(10) == 0
    assert "provision_project" not in jobs.output()  # --last 0: only what came after


@ON_SQLITE_ONLY
def test_cron_runs_are_quiet_unless_they_did_something(cli: CLI) -> None:
    for project, requests in (("proj-warn", "850000"), ("proj-cap", "1500000")):
        assert cli("provision", project, "--name", "P", "--owner", "o-1").returncode == 0
        assert cli("usage", "record", project, "-m", f"requests={requests}").returncode == 0

    planned = cli("check-limits", "--all", "--dry-run")
    assert planned.returncode == 3
    assert "a run now would warn 1, suspend 1" in planned.stdout
    acted = cli("-q", "check-limits", "--all")
    assert acted.returncode == 0 and "this run warned 1, suspended 1" in acted.stdout
    assert "proj-warn\trequests" in acted.stdout and "\twarned" in acted.stdout

    again = cli("-q", "check-limits", "--all")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")  # nothing new
    told = cli("check-limits", "--all")
    assert "1 already warned" in told.stdout and "\talready warned" in told.stdout
    nothing_now = cli("check-limits", "--all", "--dry-run")
    assert nothing_now.returncode == 0  # findings, none a run would act on now

    for args in (("scan-abuse", "--all"), ("serve", "--burst")):
        quiet = cli("-q", *args)
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", ""), args
