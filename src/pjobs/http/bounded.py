"""The listener's connections, bounded, so that what it takes in never starves `serve`:
at most `max_connections` at once, and a request's head and body must arrive within
`read_timeout` (uvicorn has neither a head-read timeout nor a connection limit of its own:
300 clients that send half a request line and wait would hold 300 of the process's files,
and the worker needs its own). At the limit, the connection that has waited longest
without sending a whole request head is closed to make room: clients that send their
requests at once are served while slow ones come and go."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# What a peer's state is once it has sent a whole request (h11's view of the client).
_REQUEST_READ = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)


def bounded_protocol(max_connections: int, read_timeout: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with these bounds (one class a listener: the
    connections waiting for a request head are the listener's)."""
    waiting: dict[BoundedH11, None] = {}  # no whole head yet, oldest first

    class BoundedH11(H11Protocol):
        _read_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            waiting[self] = None
            self._arm()
            if len(self.connections) > max_connections:
                # the oldest that sent no whole head yet makes room; else this one goes
                oldest = next(iter(waiting))
                oldest.transport.close()
                oldest._settled()

        def data_received(self, data: bytes) -> None:
            # a kept-alive connection's next request: uvicorn's keep-alive timeout covers
            # the wait for its first byte, the read timeout the rest
            super().data_received(data)
            if self.conn.their_state in _REQUEST_READ:
                self._settled()
            else:
                if self.conn.their_state is h11.IDLE:
                    waiting.setdefault(self, None)  # a head on its way
                else:
                    waiting.pop(self, None)  # the head is in: a body is on its way
                if self._read_timer is None:
                    self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._settled()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._read_timer = self.loop.call_later(read_timeout, self._too_slow)

        def _settled(self) -> None:
            waiting.pop(self, None)
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _too_slow(self) -> None:
            self._read_timer = None
            waiting.pop(self, None)
            if not self.transport.is_closing():
                self.transport.close()

    return BoundedH11
