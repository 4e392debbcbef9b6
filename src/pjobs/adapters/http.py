"""The one HTTP client pjobs makes its requests with: timeouts on every call, redirects
never followed, a User-Agent, and a transport that tests may replace (as httpx's own
`Client(transport=…)`)."""

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
