"""The figures `compare.py` takes of one checkout, printed as one JSON object.

    python benchmarks/figures.py --bench-dir DIR [--jobs 50000] [--deliveries 3000]
                                 [--only queue,cli,latency,webhooks,startup,bare]

Runs under the checkout's own virtualenv (its `pjobs`), with that checkout's
`benchmarks/run.py` and `benchmarks/webhooks.py` (DIR): a figure is taken the way the
checkout itself takes it, so older checkouts are measured as they were built. The
figures through the command line (`cli`, `startup`) need nothing but `python -m pjobs`.
A figure a checkout cannot take is left out. Every rate is per second; latency in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

PJOBS = [sys.executable, "-m", "pjobs"]


def each_store() -> Iterator[tuple[str, str, Path]]:
    """(name, database URL, data folder) of a fresh database of each store, in turn: a
    SQLite file, then a PostgreSQL database (the checkout's `run.pg_database`), dropped
    once the next is asked for."""
    import run  # the checkout's benchmarks/run.py

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        yield "sqlite", f"sqlite://{data}/pjobs.db", data
        with run.pg_database() as url:
            yield "pg", url, data


def queue(jobs: int) -> dict[str, float]:
    """The runner's figure (a Worker in this process, its tuned settings), both stores."""
    import run

    figures: dict[str, float] = {}
    for name, url, data in each_store():
        result = run.pjobs_throughput(url, data, jobs)
        figures[f"{name}_drain"] = jobs / result["total_s"]
        figures[f"{name}_enqueue"] = jobs / result["enqueue_s"]
    return figures


def cli(jobs: int) -> dict[str, float]:
    """As an operator runs it, default settings: `jobs enqueue noop --count N`, then
    `serve --burst` (start-up included), on a fresh database of each store."""
    figures: dict[str, float] = {}
    for name, url, data in each_store():
        env = {**os.environ, "PJOBS_DATABASE_URL": url, "PJOBS_DATA_DIR": str(data)}
        env["PJOBS_SCHEDULING__ENABLED"] = "false"
        subprocess.run([*PJOBS, "db", "upgrade"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run(
            [*PJOBS, "jobs", "enqueue", "noop", "--count", str(jobs)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        enqueued = time.perf_counter()
        subprocess.run([*PJOBS, "serve", "--burst"], env=env, check=True, capture_output=True)
        done = time.perf_counter()
        figures[f"{name}_cli_enqueue"] = jobs / (enqueued - started)
        figures[f"{name}_cli_drain"] = jobs / (done - enqueued)
    return figures


def latency(samples: int) -> dict[str, float]:
    import run

    with tempfile.TemporaryDirectory() as tmp, run.pg_database() as url:
        return {"pg_latency_ms": run.pjobs_latency(url, Path(tmp), samples)}


def webhooks(deliveries: int) -> dict[str, float]:
    """Deliveries a second of `serve --burst` (1 x 10 and 2 x 5) over a bare httpx loop of
    10 threads against the same receiver, in turns, on both stores."""
    import run
    import webhooks as hooks  # the checkout's benchmarks/webhooks.py

    port = hooks.free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", f"import asyncio, webhooks; asyncio.run(webhooks.serve({port}))"],
        cwd=Path(hooks.__file__).parent,
    )
    url = f"http://127.0.0.1:{port}/hooks"
    figures: dict[str, float] = {}
    try:
        time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            for name in ("sqlite", "pg"):
                for processes in (1, 2):
                    bare = hooks.bare_loop(url, deliveries, 10)
                    sqlite = f"sqlite://{tmp}/hooks-{processes}.db"
                    with run.pg_database() if name == "pg" else nullcontext(sqlite) as db:
                        ours = hooks.pjobs_serve(db, data, url, deliveries, 10, processes)
                    figures[f"webhooks_{name}_{processes}x_ratio"] = ours / bare
    finally:
        receiver.terminate()
        receiver.wait(10)
    return figures


def startup(runs: int = 9) -> dict[str, float]:
    """Median wall time of `pjobs --help` and of a completion request, new processes."""

    def median_ms(command: list[str], env: dict[str, str]) -> float:
        subprocess.run(command, env=env, capture_output=True)  # warm the file cache
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    env = dict(os.environ)
    complete = {
        **env,
        "_PJOBS_COMPLETE": "complete_bash",
        "COMP_WORDS": "pjobs jo",
        "COMP_CWORD": "1",
    }
    return {
        "help_ms": median_ms([*PJOBS, "--help"], env),
        "complete_ms": median_ms([*PJOBS], complete),
    }


def bare(jobs: int) -> dict[str, float]:
    """The anchors: a bare psycopg claim-and-complete loop (two processes, batches of 100,
    a partial index on queued rows) and a bare sqlite3 loop, no pjobs at all."""
    import bare_loops

    return {"bare_pg": bare_loops.postgresql(jobs), "bare_sqlite": bare_loops.sqlite(jobs)}


FIGURES: dict[str, Callable[[argparse.Namespace], dict[str, float]]] = {
    "queue": lambda o: queue(o.jobs),
    "cli": lambda o: cli(o.jobs),
    "latency": lambda o: latency(o.latency_samples),
    "webhooks": lambda o: webhooks(o.deliveries),
    "startup": lambda o: startup(),
    "bare": lambda o: bare(o.jobs),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", type=Path, default=Path(__file__).parent)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--only", default="queue,cli,latency,webhooks,startup")
    options = parser.parse_args()
    sys.path[:0] = [str(options.bench_dir), str(Path(__file__).parent)]
    found: dict[str, Any] = {}
    for name in options.only.split(","):
        try:
            found |= FIGURES[name](options)
        except Exception as exc:  # a checkout that cannot take a figure: left out, said why
            found[f"{name}_error"] = f"{type(exc).__name__}: {exc}"[:300]
    print(json.dumps(found))


if __name__ == "__main__":
    main()
