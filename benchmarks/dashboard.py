"""How fast the dashboard's pages answer with a million jobs in the table, on PostgreSQL:

    python benchmarks/dashboard.py [--jobs 1000000] [--turns 10]

Fills a new database with `--jobs` jobs by SQL (as a week of a platform's work: 1 % failed
with an error, 0.1 % queued, the rest succeeded; four types; payloads naming one of 1,000
projects, and one more project with none; finished over the last seven days), `VACUUM
ANALYZE`s it, serves the dashboard in this process on a loopback port, signs in, and times
each page over `--turns` requests (median and slowest, in ms, the client's whole
request). The overview's first request counts every job (`Tallies`); later ones within
its age reuse the count, and the figure for a count taken afresh is printed too. The
budget is 200 ms a page. Asserts nothing; CI does not run it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
from run import pg_database

from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.http.metrics import ServeMetrics
from pjobs.http.server import Listener, build
from pjobs.http.ui.access import ui_viewers
from pjobs.settings.config import Settings
from pjobs.settings.dburl import database_url
from pjobs.store import open_store
from pjobs.store.records import JobFilter
from pjobs.timeutil import SystemClock, utcnow

TOKEN = "b" * 40
FILL = """
INSERT INTO jobs (type, queue, payload, state, attempts, max_attempts, run_at, created_at,
                  started_at, finished_at, last_error, worker_id, succeeded_by)
SELECT (ARRAY['noop', 'deliver_webhook', 'check_usage_limits', 'export_backup'])[1 + g %% 4],
       'default', jsonb_build_object('project_id', 'proj-' || (g %% 1000)),
       CASE WHEN g %% 100 = 0 THEN 'failed' WHEN g %% 1000 = 1 THEN 'queued' ELSE 'succeeded' END,
       CASE WHEN g %% 1000 = 1 THEN 0 ELSE 1 END, 3,
       at, at, CASE WHEN g %% 1000 = 1 THEN NULL ELSE at END,
       CASE WHEN g %% 1000 = 1 THEN NULL ELSE at END,
       CASE WHEN g %% 100 = 0 THEN 'RuntimeError: the tenant database refused the connection' END,
       NULL, CASE WHEN g %% 100 <> 0 AND g %% 1000 <> 1 THEN 'bench:worker' END
FROM (SELECT g, now() - make_interval(secs => (%(jobs)s - g) * 604800.0 / %(jobs)s) AS at
      FROM generate_series(1, %(jobs)s) AS g) AS rows
"""
PROJECTS = """
INSERT INTO owners (id, created_at, updated_at)
SELECT 'owner-' || g, now(), now() FROM generate_series(0, 49) AS g;
INSERT INTO projects (id, name, owner_id, region, plan, status, created_at, updated_at)
SELECT 'proj-' || g, 'Project ' || g, 'owner-' || (g % 50), 'us-east-1', 'free',
       CASE WHEN g % 40 = 0 THEN 'suspended' ELSE 'active' END, now(), now()
FROM generate_series(0, 1000) AS g
"""


def fill(url: str, jobs: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FILL, {"jobs": jobs})
        conn.execute(PROJECTS)
        conn.execute("VACUUM ANALYZE")


def timed(client: httpx.Client, path: str, turns: int) -> tuple[float, float]:
    took = []
    for _ in range(turns):
        started = time.perf_counter()
        answer = client.get(path)
        took.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return statistics.median(took), max(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    with pg_database() as url, tempfile.TemporaryDirectory() as scratch:
        token_file = Path(scratch) / "token"
        token_file.write_text(TOKEN)
        token_file.chmod(0o600)
        settings = Settings(
            database_url=url,
            data_dir=Path(scratch),
            ui={"tokens": [{"name": "bench", "token_file": str(token_file)}]},
        )
        store = open_store(database_url(settings), pool_size=8, check_schema=False)
        store.upgrade(utcnow())
        started = time.perf_counter()
        fill(url, args.jobs)
        print(f"{args.jobs:,} jobs written and analyzed in {time.perf_counter() - started:.0f} s")
        app = App(settings, store=store, clock=SystemClock())
        ready = threading.Event()
        ready.set()
        asgi = build(app, {}, ServeMetrics(app), ready, None, ui_viewers(settings.ui))
        listener = Listener(asgi, "127.0.0.1:0", settings.receiver)
        listener.start()
        while not listener.server.started:
            time.sleep(0.01)
        with ControlPlane(store).tx(utcnow()) as tx:
            failed = tx.jobs.matching(JobFilter(state="failed"), None, 1)[0].id
        pages = [
            ("overview, counted afresh", "/ui/", 1),
            ("overview", "/ui/", args.turns),
            ("overview, last day", "/ui/?window=day", args.turns),
            ("jobs: failed of one type", "/ui/jobs?state=failed&type=noop", args.turns),
            ("jobs: its next page", f"/ui/jobs?state=failed&type=noop&before={failed}", args.turns),
            ("jobs: all, newest", "/ui/jobs", args.turns),
            ("jobs: queued", "/ui/jobs?state=queued", args.turns),
            ("jobs: of one project", "/ui/jobs?project=proj-7", args.turns),
            ("jobs: of a project with none", "/ui/jobs?project=proj-1000", args.turns),
            ("jobs: failed in the last hour", "/ui/jobs?state=failed&since=1h", args.turns),
            ("a failed job", f"/ui/jobs/{failed}", args.turns),
            ("bulk retry: the count", "/ui/jobs/bulk?action=retry&state=failed&type=noop",
             args.turns),
            ("projects", "/ui/projects", args.turns),
            ("a project", "/ui/projects/proj-7", args.turns),
            ("a project with no jobs", "/ui/projects/proj-1000", args.turns),
        ]  # fmt: skip
        try:
            with httpx.Client(base_url=f"http://{listener.address}", timeout=60) as client:
                client.post("/ui/login", data={"token": TOKEN})
                print(f"{'page':34} {'median ms':>10} {'slowest ms':>11}")
                for name, path, turns in pages:
                    if name.startswith("overview, counted"):
                        time.sleep(1.1)  # older than the count's shortest age
                    median, slowest = timed(client, path, turns)
                    print(f"{name:34} {median:10.1f} {slowest:11.1f}")
        finally:
            listener.stop(10)
            store.close()


if __name__ == "__main__":
    main()
