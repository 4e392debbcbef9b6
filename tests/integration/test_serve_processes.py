"""`pjobs serve` as processes: several at once, killed, and asked to stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import closing, suppress
from pathlib import Path

import pytest

from conftest import CLI, Background, cli_env
from support.waiting import until

pytestmark = pytest.mark.slow
needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")


def exit_code(process: Background, seconds: float) -> int:
    """How `process` ended, within `seconds`; else it is killed and the test fails."""
    try:
        return process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(process.output()) from None


def leases_expired(cli: CLI, lease_seconds: float = 1.0) -> bool:
    """Whether the running jobs' leases expired, and the margin a sweep leaves them (half
    a lease) passed too."""
    from datetime import UTC, datetime, timedelta

    running = json.loads(cli("jobs", "list", "--state", "running", "--json").stdout)["jobs"]
    now = datetime.now(UTC) - timedelta(seconds=lease_seconds / 2)
    return all(datetime.fromisoformat(j["lease_expires_at"]) < now for j in running)


def test_two_workers_run_each_job_exactly_once(tmp_path: Path, pg_database: str) -> None:
    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    # 2 ms of work a job: one worker of 4 runners takes seconds for all of them, so the
    # other, starting a moment later, finds its share (one alone drains no-op jobs faster
    # than a process starts)
    noop = ["jobs", "enqueue", "noop", "-p", '{"sleep_seconds": 0.002}', "--count", "5000"]
    assert cli(*noop).returncode == 0
    workers = [cli.popen("serve", "--burst", "--concurrency", "4") for _ in range(2)]
    for worker in workers:
        assert worker.wait(120) == 0, worker.output()
    assert cli.states() == {"succeeded": 5000}
    import psycopg

    with psycopg.connect(pg_database) as conn:
        # each job's attempt that succeeded is kept on its row; no other attempt was made
        per_job = conn.execute(
            "SELECT count(*), count(DISTINCT id), count(DISTINCT succeeded_by) FROM jobs"
        ).fetchone()
        attempts = conn.execute("SELECT DISTINCT attempts FROM jobs").fetchall()
        others = conn.execute("SELECT count(*) FROM job_attempts").fetchone()
    assert per_job is not None and per_job[0] == per_job[1] == 5000
    assert attempts == [(1,)] and others == (0,)
    assert per_job[2] == 2, "both workers should have taken a share"


def test_a_killed_worker_loses_nothing(tmp_path: Path, backend: str) -> None:
    env = {**cli_env(tmp_path, backend), "PJOBS_WORKER__LEASE_SECONDS": "1"}
    cli = CLI(env, tmp_path / "logs")
    assert (
        cli("jobs", "enqueue", "noop", "-p", '{"sleep_seconds": 0.05}', "--count", "400").returncode
        == 0
    )
    worker = cli.popen("serve", "--concurrency", "4")
    # 400 jobs of 50 ms on 4 runners take 5 s: killed well before the end
    until(lambda: cli.states().get("succeeded", 0) >= 40)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    midway = cli.states()
    assert midway.get("running", 0) > 0, midway
    assert midway.get("succeeded", 0) < 400
    until(lambda: leases_expired(cli))  # the dead worker's leases
    restarted = cli("serve", "--burst", "--concurrency", "8", timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    assert "rescued" in restarted.stderr
    assert cli.states() == {"succeeded": 400}


def test_sigterm_finishes_running_jobs_and_exits_zero(tmp_path: Path, backend: str) -> None:
    cli = CLI(cli_env(tmp_path, backend), tmp_path / "logs")
    assert (
        cli("jobs", "enqueue", "noop", "-p", '{"sleep_seconds": 1}', "--count", "6").returncode == 0
    )
    worker = cli.popen("-vv", "serve", "--concurrency", "2")
    # started, not only claimed (a claimed job not yet started is put back at once); the
    # scheduler's and the worker's own "started" lines do not count
    until(lambda: worker.output().count("(noop) attempt 1 started") >= 2)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    code = exit_code(worker, 20)
    assert code == 0, worker.output()
    assert time.monotonic() - started < 5
    final = cli.states()
    assert final.get("running", 0) == 0
    assert final.get("succeeded", 0) >= 2 and final.get("queued", 0) >= 2, final
    assert final["succeeded"] + final["queued"] == 6


def catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler for `signum` (Linux: SigCgt in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


@needs_proc
def test_a_sigterm_at_start_up_stops_serve_cleanly_before_it_claims(tmp_path: Path) -> None:
    cli = CLI(cli_env(tmp_path, f"sqlite://{tmp_path}/pjobs.db"), tmp_path / "logs")
    assert cli("jobs", "enqueue", "noop").returncode == 0
    worker = cli.popen("serve")
    # the first moment a handler exists, long before serve's command runs
    until(lambda: catches(worker.pid, signal.SIGTERM) or worker.process.poll() is not None)
    worker.send_signal(signal.SIGTERM)
    try:
        assert worker.wait(30) == 0, worker.output()
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"a signal at start-up was lost: {worker.output()}") from None
    assert cli.states() == {"queued": 1}


def test_stop_signals_are_caught_before_the_command_tree_is_imported() -> None:
    """The window in which a SIGTERM kills serve with 143 ends before typer is imported."""
    probe = """
import signal, sys
sys.argv = ["pjobs", "serve"]
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "typer" and not seen:
            seen.append(signal.getsignal(signal.SIGTERM))
sys.meta_path.insert(0, Watch())
import pjobs.cli
print(seen[0] is not signal.SIG_DFL)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "True", result.stderr


def children_of(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc)."""
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, ended but not yet waited for, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def workers_that_ran_jobs(database: str) -> set[str]:
    query = (
        "SELECT worker_id FROM job_attempts UNION "
        "SELECT succeeded_by FROM jobs WHERE succeeded_by IS NOT NULL"
    )
    if database.startswith("sqlite://"):
        import sqlite3

        with closing(sqlite3.connect(database.removeprefix("sqlite://"))) as conn:
            return {row[0] for row in conn.execute(query)}
    import psycopg

    with psycopg.connect(database) as conn:
        return {row[0] for row in conn.execute(query)}


def enqueue_sleeping(cli: CLI, count: int, seconds: float) -> None:
    payload = json.dumps({"sleep_seconds": seconds})
    result = cli("jobs", "enqueue", "noop", "-p", payload, "--count", str(count))
    assert result.returncode == 0, result.stderr


def test_serve_with_processes_runs_jobs_in_each_of_them(tmp_path: Path, backend: str) -> None:
    cli = CLI(cli_env(tmp_path, backend), tmp_path / "logs")
    # 90 jobs of 0.2 s on 2 runners a process: 9 s for the first alone, far longer than
    # the others take to start, even on a busy machine
    enqueue_sleeping(cli, 90, 0.2)
    result = cli("serve", "--burst", "--processes", "3", "--concurrency", "2", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "concurrency 2 in each of 3 processes" in result.stderr
    assert cli.states() == {"succeeded": 90}
    assert len(workers_that_ran_jobs(backend)) == 3


@needs_proc
def test_a_sigterm_to_serve_stops_its_processes_cleanly(tmp_path: Path, backend: str) -> None:
    cli = CLI(cli_env(tmp_path, backend), tmp_path / "logs")
    enqueue_sleeping(cli, 12, 1)
    serve = cli.popen("-vv", "serve", "--processes", "2", "--concurrency", "2")
    until(lambda: serve.output().count("(noop) attempt 1 started") >= 4)
    (sibling,) = children_of(serve.pid)
    serve.send_signal(signal.SIGTERM)
    code = exit_code(serve, 20)
    assert code == 0, serve.output()
    assert not alive(sibling)
    final = cli.states()
    assert final.get("running", 0) == 0, final
    assert final.get("succeeded", 0) >= 4 and final["succeeded"] + final["queued"] == 12, final


@needs_proc
def test_serve_stops_and_fails_when_one_of_its_processes_dies(tmp_path: Path, backend: str) -> None:
    cli = CLI(cli_env(tmp_path, backend), tmp_path / "logs")
    enqueue_sleeping(cli, 400, 0.05)
    serve = cli.popen("-v", "serve", "--processes", "3", "--concurrency", "2")
    until(lambda: len(children_of(serve.pid)) == 2)
    first, second = children_of(serve.pid)
    until(lambda: cli.states().get("succeeded", 0) >= 20)
    os.kill(first, signal.SIGKILL)
    code = exit_code(serve, 30)
    assert code == 1, serve.output()
    assert f"serve process {first} ended with exit code -9" in serve.output()
    until(lambda: not alive(second))
    assert cli.states().get("succeeded", 0) < 400


@needs_proc
def test_the_processes_of_a_serve_that_died_stop(tmp_path: Path, backend: str) -> None:
    env = {**cli_env(tmp_path, backend), "PJOBS_WORKER__SHUTDOWN_TIMEOUT": "1"}
    cli = CLI(env, tmp_path / "logs")
    enqueue_sleeping(cli, 400, 0.05)
    serve = cli.popen("serve", "--processes", "2", "--concurrency", "2")
    until(lambda: len(children_of(serve.pid)) == 1)
    (sibling,) = children_of(serve.pid)
    until(lambda: cli.states().get("succeeded", 0) >= 20)
    serve.kill()  # SIGKILL: no chance to pass anything on
    until(lambda: not alive(sibling), seconds=20)
    assert "is gone: stopping" in serve.output()


@needs_proc
def test_a_process_whose_serve_died_before_it_was_up_stops(tmp_path: Path, backend: str) -> None:
    """Killed while its worker processes are still starting: they learn which serve
    started them from their command line, not from whichever parent they find."""
    cli = CLI(cli_env(tmp_path, backend), tmp_path / "logs")
    enqueue_sleeping(cli, 400, 0.05)
    serve = cli.popen("serve", "--processes", "2", "--concurrency", "2")
    until(lambda: len(children_of(serve.pid)) == 1, seconds=60)
    (sibling,) = children_of(serve.pid)
    serve.kill()  # before the sibling has imported pjobs, most likely
    until(lambda: not alive(sibling), seconds=20)
    assert "is gone: stopping" in serve.output()


@needs_proc
def test_a_killed_usage_import_leaves_none_of_its_processes(tmp_path: Path) -> None:
    """SIGKILL `usage import` while its pool of checking processes works: they die with
    it (before: they ran on, re-parented to init, 60 to 100 MB each)."""
    cli = CLI(cli_env(tmp_path, f"sqlite://{tmp_path}/pjobs.db"), tmp_path / "logs")
    assert cli("db", "upgrade").returncode == 0
    line = b'{"project": "proj-aaa", "metric": "requests", "value": 1}\n'
    process = subprocess.Popen(
        [sys.executable, "-m", "pjobs", "usage", "import", "-", "--processes", "2"],
        env=cli.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdin is not None
    try:
        process.stdin.write(line * (3 * (8 << 20) // len(line)))  # three blocks: the pool
        process.stdin.flush()
        until(lambda: len(children_of(process.pid)) >= 2, 60, "the pool's processes")
        children = children_of(process.pid)
        assert all(alive(pid) for pid in children)
        process.kill()
        process.wait(10)
    finally:
        with suppress(BrokenPipeError):
            process.stdin.close()
        if process.poll() is None:
            process.kill()
    until(lambda: not any(alive(pid) for pid in children), 10, f"{children} to end")
