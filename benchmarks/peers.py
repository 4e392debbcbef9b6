"""The same no-op workload on procrastinate (PostgreSQL) and huey (SQLite store).

Run by run.py in a subprocess of its own: `python peers.py SYSTEM TARGET JOBS CONCURRENCY`.
Prints one JSON object: enqueue seconds and enqueue-to-done seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


def procrastinate_noop(url: str, jobs: int, concurrency: int) -> dict[str, float]:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    def noop() -> None:
        pass

    async def run() -> dict[str, float]:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            started = time.perf_counter()
            await noop.batch_defer_async(*[{} for _ in range(jobs)])
            enqueued = time.perf_counter()
            await app.run_worker_async(
                wait=False, concurrency=concurrency, install_signal_handlers=False
            )
            done = time.perf_counter()
        return {"enqueue_s": enqueued - started, "total_s": done - started}

    return asyncio.run(run())


def huey_noop(path: str, jobs: int, concurrency: int) -> dict[str, float]:
    from huey import SqliteHuey

    huey = SqliteHuey(filename=path)

    @huey.task()
    def noop() -> None:
        pass

    started = time.perf_counter()
    for _ in range(jobs):
        noop()
    enqueued = time.perf_counter()
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
    done = time.perf_counter()
    return {"enqueue_s": enqueued - started, "total_s": done - started}


if __name__ == "__main__":
    system, target, count, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    runner = {"procrastinate": procrastinate_noop, "huey": huey_noop}[system]
    print(json.dumps(runner(target, count, workers)))
