"""Backup figures: `pjobs export-backup` of a PostgreSQL tenant beside `pg_dump` alone on
the same database in the same run, making the same dump (plain SQL or custom, compressed
at level 3), at two sizes; and the peak memory of the pjobs process (pg_dump's own not
counted: it is the same either way). pjobs' time includes starting Python, checksums,
storing, reading back and the control-database records.

    python benchmarks/backups.py [--rows 100000 1000000]

Uses the PostgreSQL server at PJOBS_BENCH_POSTGRES_URL (default: the local one); every
database is made for the run and dropped after. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from run import SERVER, pg_database

from pjobs.backups.dump import pg_client

MEASURE = """
import resource, sys
from pjobs.cli import main
sys.argv = ["pjobs", *sys.argv[1:]]
try:
    main()
finally:
    sys.stderr.write(f"maxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
"""


def fill(url: str, rows: int) -> int:
    """A table of `rows` rows of mixed types; the database's size in bytes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, name text, at timestamptz, "
            "amount numeric, data jsonb)"
        )
        conn.execute(
            "INSERT INTO events SELECT g, md5(g::text) || ' ' || repeat('x', g %% 40), "
            "now() - g * interval '1 second', (g %% 100000)::numeric / 7, "
            "jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g %% 13)) "
            "FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE events")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert size is not None
    return int(size[0])


def in_process(control: str, data_dir: str, prefix: str, project: str, fmt: str) -> float:
    """The export_backup job's wall time in a process that has started already."""
    from pjobs.app import App
    from pjobs.settings.config import Settings

    settings = Settings(
        database_url=control, data_dir=Path(data_dir), tenants={"name_prefix": prefix}
    )
    app = App(settings)
    try:
        app.queue.stats()  # connected, schema checked
        started = time.perf_counter()
        job = app.queue.run_inline("export_backup", {"project_id": project, "format": fmt})
        took = time.perf_counter() - started
    finally:
        app.close()
    if job.state != "succeeded":
        raise SystemExit(f"export_backup failed: {job.last_error}")
    return took


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args[:3]} failed: {done.stderr.strip()[-300:]}")
    return elapsed, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    sizes = parser.parse_args().rows
    prefix = f"bench{secrets.token_hex(3)}_"
    results = []
    try:
        with pg_database() as control, tempfile.TemporaryDirectory() as tmp:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PJOBS_")},
                "PJOBS_DATABASE_URL": control,
                "PJOBS_DATA_DIR": tmp,
                "PJOBS_TENANTS__NAME_PREFIX": prefix,
                "PJOBS_SCHEDULING__ENABLED": "false",
            }
            pjobs = [sys.executable, "-c", MEASURE]
            timed([*pjobs, "db", "upgrade"], env)
            for rows in sizes:
                project = f"bench-{rows}"
                timed([*pjobs, "provision", project, "--name", "B", "--owner", "bench"], env)
                tenant = f"{prefix}{project.replace('-', '_')}"
                url = control.rsplit("/", 1)[0] + f"/{tenant}"
                size = fill(url, rows)
                for fmt, flag in (("sql", "--format=plain"), ("custom", "--format=custom")):
                    out = Path(tmp) / f"plain-{rows}-{fmt}"
                    connect, pg_env = pg_client(url)
                    baseline, _ = timed(  # the same dump pjobs asks pg_dump for
                        ["pg_dump", flag, "--compress=3", "--no-owner", "-f", str(out), *connect],
                        pg_env,
                    )
                    dumped = out.stat().st_size
                    args = [*pjobs, "export-backup", project, "--format", fmt, "--json"]
                    took, stderr = timed(args, env)
                    rss = int(stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024
                    inside = in_process(control, tmp, prefix, project, fmt)
                    results.append((rows, size, fmt, baseline, dumped, took, inside, rss))
                    out.unlink()
            stored = subprocess.run(
                [*pjobs, "backups", "list", "--json"], env=env, capture_output=True, text=True
            )
            sizes_by_format = [
                (b["format"], b["size"]) for b in json.loads(stored.stdout)["backups"]
            ]
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            names = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)
            ).fetchall()
            for (name,) in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{'rows':>9} {'db MB':>6} {'format':>7} {'pg_dump s':>9} {'dump MB':>7} "
          f"{'CLI s':>6} {'ratio':>6} {'job s':>6} {'ratio':>6} {'CLI peak MB':>11}")  # fmt: skip
    for rows, size, fmt, baseline, dumped, took, inside, rss in results:
        print(
            f"{rows:>9,} {size / 1e6:>6.0f} {fmt:>7} {baseline:>9.2f} {dumped / 1e6:>7.0f} "
            f"{took:>6.2f} {took / baseline:>6.2f} {inside:>6.2f} {inside / baseline:>6.2f} "
            f"{rss:>11.0f}"
        )
    print("CLI: `pjobs export-backup` as a new process (Python and pjobs start-up included);")
    print("job: the export_backup job run in a warm process, as `serve` runs it.")
    print("stored sizes (bytes):", sizes_by_format)


if __name__ == "__main__":
    main()
