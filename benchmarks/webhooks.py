"""Webhook delivery figures: deliveries a second from `pjobs serve` to a local receiver
that answers 200 at once, beside a bare httpx client loop with the same concurrency
against the same receiver, in the same run, on SQLite and PostgreSQL.

    python benchmarks/webhooks.py [--deliveries 5000] [--concurrency 10]

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
from pathlib import Path

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


def pjobs_serve(
    database: str, data_dir: Path, url: str, deliveries: int, concurrency: int
) -> float:
    """Deliveries a second of `pjobs serve --burst`: signed, recorded, each a job."""
    from pjobs.app import App
    from pjobs.config import Settings
    from pjobs.control import ControlPlane
    from pjobs.deliveries import add_endpoint, deliver

    env = {
        **os.environ,
        "PJOBS_DATABASE_URL": database,
        "PJOBS_DATA_DIR": str(data_dir),
        "PJOBS_WEBHOOKS__SECRET_KEY": KEY,
        "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]',
    }
    settings = Settings(
        database_url=database,
        data_dir=data_dir,
        webhooks={"secret_key": KEY, "allow_cidrs": ["127.0.0.1/32"]},
    )
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
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pjobs", "serve", "--burst", "--concurrency", str(concurrency)],
        env=env,
        check=True,
        capture_output=True,
    )
    return deliveries / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=10)
    options = parser.parse_args()
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", f"import asyncio, webhooks; asyncio.run(webhooks.serve({port}))"],
        cwd=Path(__file__).parent,
    )
    url = f"http://127.0.0.1:{port}/hooks"
    try:
        time.sleep(0.5)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for name, database in (("SQLite", f"sqlite://{tmp}/pjobs.db"), ("PostgreSQL", None)):
                bare = bare_loop(url, options.deliveries, options.concurrency)
                if database is None:
                    with pg_database() as pg:
                        ours = pjobs_serve(
                            pg, Path(tmp), url, options.deliveries, options.concurrency
                        )
                else:
                    ours = pjobs_serve(
                        database, Path(tmp), url, options.deliveries, options.concurrency
                    )
                rows.append((name, ours, bare))
    finally:
        receiver.terminate()
        receiver.wait(10)
    print(f"{options.deliveries} deliveries, concurrency {options.concurrency}")
    for name, ours, bare in rows:
        print(
            f"{name:<11} pjobs serve {ours:8,.0f}/s   bare httpx loop {bare:8,.0f}/s   "
            f"ratio {ours / bare:.2f}"
        )


if __name__ == "__main__":
    main()
