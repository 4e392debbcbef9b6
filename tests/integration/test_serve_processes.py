"""`pjobs serve` as processes: several at once, killed, and asked to stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CLI, cli_env

pytestmark = pytest.mark.slow


def states(cli: CLI) -> dict[str, int]:
    result = cli("jobs", "stats", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, int] = json.loads(result.stdout)["states"]
    return data


def leases_expired(cli: CLI) -> bool:
    from datetime import UTC, datetime

    running = json.loads(cli("jobs", "list", "--state", "running", "--json").stdout)["jobs"]
    now = datetime.now(UTC)
    return all(datetime.fromisoformat(j["lease_expires_at"]) < now for j in running)


def wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_two_workers_run_each_job_exactly_once(tmp_path: Path, pg_database: str) -> None:
    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    assert cli("jobs", "enqueue", "noop", "--count", "5000").returncode == 0
    workers = [cli.popen("serve", "--burst", "--concurrency", "4") for _ in range(2)]
    for worker in workers:
        assert worker.wait(120) == 0, worker.output()
    assert states(cli) == {"succeeded": 5000}
    import psycopg

    with psycopg.connect(pg_database) as conn:
        per_job = conn.execute(
            "SELECT count(*), count(DISTINCT job_id), count(DISTINCT worker_id) FROM job_attempts"
        ).fetchone()
        attempts = conn.execute("SELECT DISTINCT attempts FROM jobs").fetchall()
    assert per_job is not None and per_job[0] == per_job[1] == 5000
    assert attempts == [(1,)]
    assert per_job[2] == 2, "both workers should have taken a share"


def test_a_killed_worker_loses_nothing(tmp_path: Path, backend: str) -> None:
    env = {**cli_env(tmp_path, backend), "PJOBS_WORKER__LEASE_SECONDS": "1"}
    cli = CLI(env, tmp_path / "logs")
    assert (
        cli("jobs", "enqueue", "noop", "-p", '{"sleep_seconds": 0.02}', "--count", "400").returncode
        == 0
    )
    worker = cli.popen("serve", "--concurrency", "4")
    wait_until(lambda: states(cli).get("succeeded", 0) >= 40)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    midway = states(cli)
    assert midway.get("running", 0) > 0, midway
    assert midway.get("succeeded", 0) < 400
    wait_until(lambda: leases_expired(cli))  # the dead worker's leases
    restarted = cli("serve", "--burst", "--concurrency", "8", timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    assert "rescued" in restarted.stderr
    assert states(cli) == {"succeeded": 400}


def test_sigterm_finishes_running_jobs_and_exits_zero(tmp_path: Path, backend: str) -> None:
    cli = CLI(cli_env(tmp_path, backend), tmp_path / "logs")
    assert (
        cli("jobs", "enqueue", "noop", "-p", '{"sleep_seconds": 1}', "--count", "6").returncode == 0
    )
    worker = cli.popen("serve", "--concurrency", "2")
    wait_until(lambda: states(cli).get("running", 0) >= 2)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    try:
        code = worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(worker.output()) from None
    assert code == 0, worker.output()
    assert time.monotonic() - started < 5
    final = states(cli)
    assert final.get("running", 0) == 0
    assert final.get("succeeded", 0) >= 2 and final.get("queued", 0) >= 2, final
    assert final["succeeded"] + final["queued"] == 6
