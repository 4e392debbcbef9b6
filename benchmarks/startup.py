"""Start-up: what a CLI call costs before and around its one database statement, beside
the smallest Typer programs that do the same work, in the same run.

    .venv/bin/python benchmarks/startup.py          # --runs 15

1. `pjobs --help` beside a one-command Typer app's `--help` (goal: at most 1.2 times).
2. `pjobs jobs enqueue noop --payload '{}'` on SQLite beside a one-file Typer program that
   parses the same arguments, validates the payload with a pydantic model and inserts one
   row into a SQLite table (goal: at most 1.3 times).

Each figure is the median wall time of `--runs` runs of a new process (the same
interpreter), the two programs in turns, after one warm-up run of each. pjobs is compiled
first, as a wheel install is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ONE_COMMAND_APP = """\
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "x") -> None:
    print(name)
app()
"""

ONE_FILE_ENQUEUE = """\
import json
import sqlite3
import sys
from datetime import datetime, timezone

import typer
from pydantic import BaseModel, ConfigDict

app = typer.Typer()


class Noop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sleep_seconds: float = 0
    fail: bool = False


@app.command()
def enqueue(job_type: str, payload: str = typer.Option("{}", "--payload", "-p")) -> None:
    checked = Noop.model_validate_json(payload)
    conn = sqlite3.connect(sys.argv[0] + ".db")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, type TEXT, payload TEXT, "
        "state TEXT, created_at TEXT)"
    )
    with conn:
        cursor = conn.execute(
            "INSERT INTO jobs (type, payload, state, created_at) VALUES (?, ?, 'queued', ?)",
            (job_type, checked.model_dump_json(), datetime.now(timezone.utc).isoformat()),
        )
    print(cursor.lastrowid)


app()
"""


def paired_ms(
    ours: list[str], theirs: list[str], env: dict[str, str], runs: int
) -> tuple[float, float]:
    """Median wall times of both commands, run in turns (so a change in the machine's load
    during the run weighs on both alike), after one warm-up run of each."""
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(runs + 1):
        for args, into in ((ours, times[0]), (theirs, times[1])):
            started = time.perf_counter()
            subprocess.run(args, env=env, capture_output=True, check=True)
            if n:
                into.append(time.perf_counter() - started)
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PJOBS_")}
        env.update(XDG_DATA_HOME=str(folder / "data"), XDG_CONFIG_HOME=str(folder / "config"))
        pjobs = [sys.executable, "-m", "pjobs"]
        # compiled as an installed wheel is (an editable install under
        # PYTHONDONTWRITEBYTECODE would otherwise compile pjobs from source every run)
        import compileall

        import pjobs as package

        compileall.compile_dir(Path(package.__file__).parent, quiet=1)
        subprocess.run([*pjobs, "db", "upgrade"], env=env, capture_output=True, check=True)
        help_app = folder / "help_app.py"
        help_app.write_text(ONE_COMMAND_APP)
        enqueue_app = folder / "enqueue_app.py"
        enqueue_app.write_text(ONE_FILE_ENQUEUE)
        rows = [
            (
                "--help",
                *paired_ms(
                    [*pjobs, "--help"], [sys.executable, str(help_app), "--help"], env, runs
                ),
                1.2,
            ),
            (
                "enqueue noop (SQLite)",
                *paired_ms(
                    [*pjobs, "jobs", "enqueue", "noop", "--payload", "{}"],
                    [sys.executable, str(enqueue_app), "noop", "--payload", "{}"],
                    env,
                    runs,
                ),
                1.3,
            ),
        ]
    print(f"median of {runs} runs each\n")
    print(f"{'':<24}{'pjobs ms':>10}{'Typer ms':>10}{'ratio':>8}{'goal':>7}")
    for name, ours, theirs, goal in rows:
        print(f"{name:<24}{ours:>10.0f}{theirs:>10.0f}{ours / theirs:>8.2f}{goal:>7.1f}")


if __name__ == "__main__":
    main()
