"""Does the queue slow down as it fills, or as it keeps what it finished? Through the
command line, as an operator runs it (default settings), on each store:

    python benchmarks/history.py [--backlog 1000000] [--jobs 20000] [--stores sqlite,pg]

1. a fresh database drains `--jobs` no-op jobs (`jobs enqueue noop --count`, then
   `serve --burst`);
2. the same database then drains a backlog of `--backlog` jobs, enqueued at once;
3. and then `--jobs` jobs again, with the backlog's finished jobs kept (their retention is
   7 days by default).

Each drain's time is the `serve --burst` process's, less that of a `serve --burst` that
finds nothing to do (start-up and shutdown), taken first. Prints each rate and the two
ratios the queue is held to (≥ 0.8 each): backlog / fresh and after / fresh. Asserts
nothing; CI does not run it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from run import pg_database

PJOBS = [sys.executable, "-m", "pjobs"]


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*PJOBS, *command], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def drain_rate(env: dict[str, str], jobs: int, idle: float) -> float:
    timed(["jobs", "enqueue", "noop", "--count", str(jobs)], env)
    return jobs / max(timed(["serve", "--burst"], env) - idle, 1e-6)


def figures(url: str, data: Path, backlog: int, jobs: int) -> dict[str, float]:
    env = {**os.environ, "PJOBS_DATABASE_URL": url, "PJOBS_DATA_DIR": str(data)}
    env["PJOBS_SCHEDULING__ENABLED"] = "false"
    timed(["db", "upgrade"], env)
    idle = min(timed(["serve", "--burst"], env) for _ in range(3))
    fresh = drain_rate(env, jobs, idle)
    full = drain_rate(env, backlog, idle)
    after = drain_rate(env, jobs, idle)
    return {"idle_s": idle, "fresh": fresh, "backlog": full, "after": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--stores", default="sqlite,pg")
    options = parser.parse_args()
    print(f"{'store':<8}{'fresh':>12}{'backlog':>12}{'after':>12}{'backlog/fresh':>15}"
          f"{'after/fresh':>13}")  # fmt: skip
    for store in options.stores.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            database = pg_database() if store == "pg" else nullcontext(f"sqlite://{tmp}/h.db")
            with database as url:
                f = figures(url, data, options.backlog, options.jobs)
            print(
                f"{store:<8}{f['fresh']:>12,.0f}{f['backlog']:>12,.0f}{f['after']:>12,.0f}"
                f"{f['backlog'] / f['fresh']:>15.2f}{f['after'] / f['fresh']:>13.2f}",
                flush=True,
            )
    print(f"\njobs/s through `serve --burst`; {options.jobs:,} jobs fresh and after, "
          f"a backlog of {options.backlog:,}")  # fmt: skip


if __name__ == "__main__":
    main()
