"""Webhook delivery figures: deliveries a second from `pjobs serve` to a local receiver
that answers 200 at once, beside a bare httpx client loop with the same concurrency
against the same receiver, in the same run, on SQLite and PostgreSQL.

    python benchmarks/webhooks.py [--deliveries 5000] [--concurrency 10] [--processes 2]

`pjobs serve` runs once as one process of that concurrency, and once as `--processes`
processes that share it (2 of concurrency 5 by default): a Python process runs Python on
one core at a time.

The receiver is a process of its own (asyncio, HTTP/1.1 keep-alive), so it shares no
interpreter with either client. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from run import pg_database

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
BODY = b'{"type":"webhook.test","timestamp":"2026-11-29T12:00:00+00:00","data":{"n":1}}'


async def serve(port: int) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bare_loop(url: str, deliveries: int, concurrency: int) -> float:
    """Deliveries a second of plain httpx POSTs, `concurrency` threads at once."""
    import httpx

    left = [deliveries]
    lock = threading.Lock()

    def work() -> None:
        with httpx.Client() as client:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                client.post(url, content=BODY, headers={"content-type": "application/json"})

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return deliveries / (time.perf_counter() - started)


def settings_for(database: str, data_dir: Path) -> Any:
    from pjobs.settings.config import Settings

    return Settings(
        database_url=database,
        data_dir=data_dir,
        webhooks={"secret_key": KEY, "allow_cidrs": ["127.0.0.1/32"]},
    )


def enqueue_deliveries(database: str, data_dir: Path, url: str, deliveries: int) -> None:
    """An endpoint at `url`, and `deliveries` deliveries to it, each with its job."""
    from pjobs.app import App
    from pjobs.control import ControlPlane
    from pjobs.domain.webhooks import add_endpoint, deliver

    settings = settings_for(database, data_dir)
    app = App(settings, check_schema=False)
    app.store.upgrade(app.clock.now())
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-bench", "B", "owner-1", "eu", "free")
        endpoint_id, _ = add_endpoint(
            tx, settings, app.integrations.webhooks, "proj-bench", url, [], None, "bench"
        )
        for _ in range(deliveries):
            deliver(tx, app.registry, settings, endpoint_id, "webhook.test", {"n": 1}, "bench")
    app.close()


def pjobs_serve(
    database: str, data_dir: Path, url: str, deliveries: int, concurrency: int, processes: int
) -> float:
    """Deliveries a second of `pjobs serve --burst` (`processes` of them sharing
    `concurrency`), start-up included: signed, recorded, each a job."""
    enqueue_deliveries(database, data_dir, url, deliveries)
    env = {
        **os.environ,
        "PJOBS_DATABASE_URL": database,
        "PJOBS_DATA_DIR": str(data_dir),
        "PJOBS_WEBHOOKS__SECRET_KEY": KEY,
        "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]',
    }
    started = time.perf_counter()
    per_process = str(concurrency // processes)
    command = ["serve", "--burst", "--concurrency", per_process]
    command += ["--processes", str(processes)] if processes > 1 else []
    subprocess.run(
        [sys.executable, "-m", "pjobs", *command],
        env=env,
        check=True,
        capture_output=True,
    )
    return deliveries / (time.perf_counter() - started)


def in_process(
    database: str, data_dir: Path, url: str, deliveries: int, concurrency: int
) -> dict[str, float]:
    """The same work by a Worker in this process, with what it cost (`costs`) and the share
    of the run the worker's loop spent claiming and recording outcomes (it does both for
    every runner)."""
    from pjobs.app import App
    from pjobs.queue.worker import Worker

    enqueue_deliveries(database, data_dir, url, deliveries)
    app = App(settings_for(database, data_dir))
    store = app.store
    in_store = dict.fromkeys(("claim", "acknowledge", "acknowledge_and_claim"), 0.0)

    def timed(name: str) -> Any:
        method = getattr(store, name)

        def call(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args)
            finally:
                in_store[name] += time.perf_counter() - started

        return call

    for name in in_store:
        setattr(store, name, timed(name))
    worker = Worker(
        store, app.registry, app.settings, app.queue.context_for, app.clock,
        concurrency=concurrency, burst=True,
    )  # fmt: skip

    def run() -> dict[str, float]:
        started = time.perf_counter()
        worker.run()
        wall = time.perf_counter() - started
        busy = sum(in_store.values()) / wall
        return {"count": worker.processed, "rate": worker.processed / wall, "loop_busy": busy}

    figures = costs(run)
    app.close()
    assert worker.processed == deliveries and worker.failed == 0
    return figures


def costs(run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """`run()`'s figures ("count" requests among them), with what they cost this process:
    CPU time and voluntary thread switches a request."""
    import resource

    before, cpu = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    figures = run()
    cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_SELF)
    count = figures["count"]
    switches = (after.ru_nvcsw - before.ru_nvcsw) / count
    return figures | {"cpu_us": cpu / count * 1e6, "switches": switches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="a Worker in this process instead of `pjobs serve`, with what a delivery costs",
    )
    options = parser.parse_args()
    n, concurrency = options.deliveries, options.concurrency
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", f"import asyncio, webhooks; asyncio.run(webhooks.serve({port}))"],
        cwd=Path(__file__).parent,
    )
    url = f"http://127.0.0.1:{port}/hooks"
    lines = [f"{n} deliveries, concurrency {concurrency}"]
    try:
        time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("SQLite", "PostgreSQL"):
                bare = costs(lambda: {"count": n, "rate": bare_loop(url, n, concurrency)})
                runs = [0] if options.in_process else sorted({1, options.processes})
                for run, processes in enumerate(runs):
                    sqlite = f"sqlite://{tmp}/pjobs-{run}.db"
                    with pg_database() if name == "PostgreSQL" else nullcontext(sqlite) as db:
                        if options.in_process:
                            ours = in_process(db, Path(tmp), url, n, concurrency)
                            how = "in process"
                        else:
                            rate = pjobs_serve(db, Path(tmp), url, n, concurrency, processes)
                            ours = {"rate": rate}
                            how = f"serve {processes}x{concurrency // processes}"
                    line = (
                        f"{name:<11} pjobs {how:<11} {ours['rate']:8,.0f}/s   bare httpx loop "
                        f"{bare['rate']:8,.0f}/s   ratio {ours['rate'] / bare['rate']:.2f}"
                    )
                    if options.in_process:
                        line += (
                            f"\n{'':<11} CPU a delivery {ours['cpu_us']:,.0f} us (bare "
                            f"{bare['cpu_us']:,.0f}), thread switches {ours['switches']:.0f} "
                            f"(bare {bare['switches']:.0f}), worker's loop claiming and "
                            f"recording {ours['loop_busy']:.0%} of the run"
                        )
                    lines.append(line)
    finally:
        receiver.terminate()
        receiver.wait(10)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
