"""The HTTP pjobs makes its requests with: one client (timeouts on every call, redirects
never followed, a User-Agent), which accepts a transport that tests may pass (as httpx's own
`Client(transport=…)`), and, for webhook deliveries, bare connection pools. The HTTP libraries'
own log lines carry whole URLs, so their loggers get a filter that hides the secrets a URL
can hold (a Telegram bot token, a password) before any handler sees them."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from pjobs.redaction import redact

if TYPE_CHECKING:
    import ssl

    import httpcore
    import httpx

DEFAULT_TIMEOUT = 10.0
HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2")


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def redact_http_logs() -> None:
    """Put the redacting filter on the HTTP libraries' loggers (once)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def build_http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    import httpx

    from pjobs import __version__

    redact_http_logs()

    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": f"pjobs/{__version__}"},
        transport=transport,
    )


def verified_tls() -> ssl.SSLContext:
    """TLS that verifies the server, trusting what httpx's clients trust: the authorities
    of SSL_CERT_FILE or SSL_CERT_DIR when set, else certifi's. Made here, not by httpx's
    `create_ssl_context`: importing httpx for it alone cost a worker that only delivers
    webhooks (through httpcore) 60 ms at its first delivery."""
    import ssl

    if cafile := os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=cafile)
    if capath := os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=capath)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def build_webhook_pool(tls: ssl.SSLContext) -> httpcore.ConnectionPool:
    """A connection pool of its own (httpx's limits, no retries) for requests that must not
    go through a client's cookie jar or redirect handling: webhook deliveries; its requests
    keep a whole-attempt deadline (`adapters.deadline`)."""
    import httpcore

    from pjobs.adapters.deadline import DeadlineBackend

    redact_http_logs()
    return httpcore.ConnectionPool(
        ssl_context=tls,
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        retries=0,
        network_backend=DeadlineBackend(),
    )
