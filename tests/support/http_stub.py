"""A real HTTP server on 127.0.0.1 that records what it receives and answers from a script:
stand-in for the platform services and the Telegram Bot API in tests."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    at: float = field(default_factory=time.monotonic)  # when it arrived


class Loopback:
    """A threaded HTTP server on 127.0.0.1 with a port of its own, serving `handler`
    (HTTPS when `tls`, a server's context, is set)."""

    server: ThreadingHTTPServer
    tls: ssl.SSLContext | None = None

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{'http' if self.tls is None else 'https'}://{host!s}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class StubServer(Loopback):
    """Answers each request with the next scripted (status, body) or (status, body,
    headers), then `default`."""

    default: tuple[Any, ...] = (200, {"ok": True})
    script: deque[tuple[Any, ...]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before each answer (a slow service)
    serial: bool = False  # answer one request at a time (a service that queues callers)
    trickle: float = 0.0  # seconds between the bytes of each answer (a receiver that drips)
    most_at_once: int = 0  # the most requests it was answering at one time
    tls: ssl.SSLContext | None = None  # HTTPS, with this server context

    def __post_init__(self) -> None:
        self.script = deque(self.script)
        stub = self
        one_at_a_time = threading.Lock()
        counting = threading.Lock()
        answering = [0]

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                with counting:
                    answering[0] += 1
                    stub.most_at_once = max(stub.most_at_once, answering[0])
                try:
                    if stub.serial:
                        with one_at_a_time:
                            self._reply()
                    else:
                        self._reply()
                finally:
                    with counting:
                        answering[0] -= 1

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                stub.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), body, raw)
                )
                if stub.delay:
                    time.sleep(stub.delay)
                status, reply, *extra = stub.script.popleft() if stub.script else stub.default
                data = json.dumps(reply).encode()
                if stub.trickle:
                    self._drip(status, data)
                    return
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _drip(self, status: int, data: bytes) -> None:
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(data)}\r\n\r\n"
                try:
                    for byte in head.encode() + data:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(stub.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.serve(Handler)

    def requests(self, method: str) -> list[Received]:
        return [r for r in self.received if r.method == method]
