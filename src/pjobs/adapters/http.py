"""The HTTP pjobs makes its requests with: one client (timeouts on every call, redirects
never followed, a User-Agent) and, for webhook deliveries, a bare transport; both accept a
transport that tests may pass (as httpx's own `Client(transport=…)`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT = 10.0


def build_http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    import httpx

    from pjobs import __version__

    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": f"pjobs/{__version__}"},
        transport=transport,
    )


def build_transport(transport: httpx.BaseTransport | None = None) -> httpx.BaseTransport:
    """A transport of its own (a connection pool, no retries) for requests that must not
    go through a client's cookie jar or redirect handling: webhook deliveries."""
    import httpx

    return transport or httpx.HTTPTransport(retries=0)
