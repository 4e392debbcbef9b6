"""Webhook requests: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), and the POST itself:
to the address the SSRF guard checked (with the URL's host in the Host header and as the
TLS server name), redirects never followed, a whole-attempt timeout, and the response
read up to a limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from pjobs import __version__
from pjobs.adapters.ssrf import RefusedTarget, Resolver, Target, checked_addresses, parse_target
from pjobs.errors import InvalidInputError

if TYPE_CHECKING:
    import httpcore

    from pjobs.adapters import WebhookTransport
    from pjobs.settings.groups import WebhookSettings

USER_AGENT = f"pjobs/{__version__} (webhooks)"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
EXCERPT_BYTES = 1024
# Sent as written in a request target; any other character is percent-encoded (UTF-8).
_VISIBLE_ASCII = "".join(chr(code) for code in range(33, 127))


def new_secret() -> str:
    """A signing secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for (its base64-decoded bytes)."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidInputError("a signing secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        raise InvalidInputError("a signing secret is whsec_ and base64") from None
    if len(key) < 24:
        raise InvalidInputError("a signing secret must hold at least 24 bytes")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret_key_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    message_id: str, timestamp: int, body: str, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers; every secret signs (space-separated) during a
    rotation's grace."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(s, message_id, timestamp, body) for s in signing_secrets
        ),
    }


@dataclass(frozen=True)
class Attempt:
    """How one POST went."""

    status: int | None
    latency_ms: float
    error: str | None
    response: str | None  # the first KiB of the body
    retry_after: float | None  # seconds the receiver asked for

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class EndpointShares:
    """The attempts in flight to each endpoint in this process, so that one slow endpoint
    never holds most of the runners: once an endpoint is slow (its last attempt took
    longer than `slow_seconds`, or one in flight has), it gets at most `share` attempts
    at once; a fast one is not limited."""

    def __init__(self, share: int, slow_seconds: float) -> None:
        self.share, self.slow_seconds = max(share, 1), slow_seconds
        self._lock = threading.Lock()
        self._in_flight: dict[str, dict[object, float]] = {}  # by endpoint: started, a token
        self._slow: set[str] = set()

    @contextmanager
    def slot(self, endpoint_id: str) -> Iterator[bool]:
        """An attempt to the endpoint (True), or none now (False: it holds its share)."""
        token, started = object(), time.monotonic()
        with self._lock:
            flights = self._in_flight.setdefault(endpoint_id, {})
            slow = endpoint_id in self._slow or any(
                started - since > self.slow_seconds for since in flights.values()
            )
            admitted = not slow or len(flights) < self.share
            if admitted:
                flights[token] = started
            elif not flights:
                del self._in_flight[endpoint_id]
        if not admitted:
            yield False
            return
        try:
            yield True
        finally:
            took = time.monotonic() - started
            with self._lock:
                flights = self._in_flight[endpoint_id]
                del flights[token]
                if not flights:
                    del self._in_flight[endpoint_id]
                if took > self.slow_seconds:
                    self._slow.add(endpoint_id)
                else:
                    self._slow.discard(endpoint_id)


class WebhookSender:
    def __init__(
        self,
        settings: WebhookSettings,
        pool: Callable[[], WebhookTransport],
        resolver: Resolver,
        runners: int = 1,
    ) -> None:
        self.settings, self._pool, self.resolver = settings, pool, resolver
        self.shares = EndpointShares(
            settings.slow_endpoint_runners or runners // 2, settings.slow_seconds
        )

    def check(self, url: str) -> Target:
        """The URL, if a webhook may call it now (RefusedTarget, exit 65, if not)."""
        target = parse_target(url)
        checked_addresses(target, self.resolver, self.settings.allow_cidrs)
        return target

    def post(self, url: str, headers: dict[str, str], body: str) -> Attempt:
        """POST `body` to `url`; never raises for what the network or receiver did.

        It goes straight to a connection pool: no cookie jar (one receiver's cookies must
        never reach another), no redirects, no auth — only the request that was signed."""
        import httpcore  # here: importing it costs every command that sends nothing

        started = time.monotonic()
        try:
            target = parse_target(url)
            address = checked_addresses(target, self.resolver, self.settings.allow_cidrs)[0]
        except RefusedTarget as exc:
            return Attempt(None, 0.0, f"refused: {exc}", None, None)
        cfg = self.settings
        content = body.encode()
        sent = {**headers, "host": _host_header(target), "user-agent": USER_AGENT}
        sent["content-length"] = str(len(content))
        request = httpcore.Request(
            b"POST",
            httpcore.URL(
                scheme=target.scheme.encode(),
                host=address.encode(),
                port=target.port,
                target=quote(target.path, safe=_VISIBLE_ASCII).encode("ascii"),
            ),
            headers=[(name.encode(), value.encode()) for name, value in sent.items()],
            content=content,
            extensions={"sni_hostname": target.host, "timeout": _timeouts(cfg)},
        )
        from pjobs.adapters.deadline import whole_attempt

        try:
            with whole_attempt(cfg.timeout_seconds - (time.monotonic() - started)):
                response = self._pool().handle_request(request)
                try:
                    excerpt = _read_limited(response, cfg.max_response_bytes)
                finally:
                    response.close()
        except (
            httpcore.TimeoutException,
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
            TimeoutError,
        ) as exc:
            latency = (time.monotonic() - started) * 1000
            return Attempt(None, latency, _describe(exc), None, None)
        latency = (time.monotonic() - started) * 1000
        status = response.status
        error = None if 200 <= status < 300 else f"HTTP {status}"
        retry_after = _retry_after(_header(response, b"retry-after"))
        return Attempt(status, latency, error, excerpt, retry_after)


def _timeouts(cfg: WebhookSettings) -> dict[str, float]:
    whole = cfg.timeout_seconds
    return {"connect": cfg.connect_timeout_seconds, "read": whole, "write": whole, "pool": whole}


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _host_header(target: Target) -> str:
    """The Host header: the URL's host (a name outside ASCII in its IDNA form) and port."""
    host = target.host if target.host.isascii() else target.host.encode("idna").decode("ascii")
    host = f"[{host}]" if ":" in host else host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _read_limited(response: httpcore.Response, limit: int) -> str:
    """At most `limit` bytes of the body; its first KiB as text."""
    read = bytearray()
    for chunk in response.iter_stream():
        read += chunk
        if len(read) >= limit:
            break
    return bytes(read[:EXCERPT_BYTES]).decode("utf-8", errors="replace")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds, or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _describe(exc: BaseException) -> str:
    kind = type(exc).__name__
    if "Timeout" in kind or isinstance(exc, TimeoutError):
        return f"timed out ({kind})"
    return f"{kind}: {str(exc)[:200]}" if str(exc) else kind
