"""The listener of `serve --http`, the real one on a free loopback port in this process,
and a way to post to its hooks as a monitoring system does."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from support.waiting import until

if TYPE_CHECKING:
    from pjobs.app import App

Post = Callable[[str, Any], httpx.Response]


@contextmanager
def listening(app: App, token: str) -> Iterator[Post]:
    """Serve `app`'s hooks while the block runs; yields post(source, body)."""
    from pjobs.http.metrics import ServeMetrics
    from pjobs.http.server import Listener, build, receiver_tokens

    settings = app.settings.receiver
    ready = threading.Event()
    ready.set()
    asgi = build(app, receiver_tokens(settings), ServeMetrics(app), ready)
    listener = Listener(asgi, "127.0.0.1:0", settings)
    listener.start()
    base = f"http://{listener.address}"
    until(lambda: listener.server.started, 10, "the listener")

    def post(source: str, body: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.post(f"{base}/hooks/{source}", content=content, headers=headers, timeout=10)

    try:
        yield post
    finally:
        listener.stop(10)


@contextmanager
def serving_dashboard(app: App) -> Iterator[str]:
    """Serve `app`'s listener with its dashboard (`ui.tokens`) while the block runs;
    yields its base URL."""
    from pjobs.http.metrics import ServeMetrics
    from pjobs.http.server import Listener, build
    from pjobs.http.ui.access import ui_viewers

    ready = threading.Event()
    ready.set()
    viewers = ui_viewers(app.settings.ui)
    asgi = build(app, {}, ServeMetrics(app), ready, None, viewers)
    listener = Listener(asgi, "127.0.0.1:0", app.settings.receiver)
    listener.start()
    until(lambda: listener.server.started, 10, "the listener")
    try:
        yield f"http://{listener.address}"
    finally:
        listener.stop(10)


def free_port() -> int:
    """A loopback port nothing listens on now (for a process started next to take)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Whether something answers at `url` (200 or 503: up, database or not)."""
    try:
        return httpx.get(url, timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False
