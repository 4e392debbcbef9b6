"""The HTTP listener of `pjobs serve --http HOST:PORT`, on Starlette and uvicorn (a
well-kept ASGI stack rather than a hand-written server): `POST /hooks/{alertmanager,
grafana,datadog,generic}` (a bearer token, compared in constant time), `GET /metrics`,
`GET /healthz` and `GET /readyz`. Requests are answered in milliseconds: the work they
ask for happens in jobs."""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pjobs.errors import PjobsError, UnavailableError
from pjobs.http.alerts import SOURCES, BadAlert, parse, receive
from pjobs.http.bodies import TooLarge, read_limited

if TYPE_CHECKING:
    import uvicorn
    from pydantic import SecretStr

    from pjobs.app import App
    from pjobs.http.metrics import ServeMetrics
    from pjobs.settings.groups import ReceiverSettings

log = logging.getLogger("pjobs.http")
HEALTH_TIMEOUT_SECONDS = 2.0  # a health check answers within about this, database or not


def openapi_document() -> bytes:
    """The listener's OpenAPI 3 document (`http/openapi.json`: each hook's shape, with a
    real example payload), as it ships with the package."""
    from importlib import resources

    return (resources.files("pjobs.http") / "openapi.json").read_bytes()


def receiver_tokens(settings: ReceiverSettings) -> dict[str, str]:
    """The bearer token each hook takes: its source's own (`receiver.tokens.SOURCE`), else
    the shared `receiver.token`. ConfigError (78) for a hook left without one, or a token
    shorter than MIN_TOKEN_LENGTH characters (one that can be guessed)."""
    from pjobs.errors import ConfigError
    from pjobs.settings.secretfile import long_enough, read_secret

    shared = read_secret(settings.token, settings.token_file, "the receiver token")
    tokens: dict[str, str] = {}
    own_tokens: dict[str, SecretStr] = {str(k): v for k, v in settings.tokens.items()}
    for source in SOURCES:
        own = own_tokens.get(source)
        token = own.get_secret_value() if own is not None else shared
        if not token:
            raise ConfigError(
                f"--http needs receiver.token (PJOBS_RECEIVER__TOKEN) or token_file, or a "
                f"token for each hook (receiver.tokens.{source})"
            )
        where = f"receiver.tokens.{source}" if own is not None else "receiver.token"
        tokens[source] = long_enough(token, where)
    return tokens


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def build(
    app: App,
    tokens: dict[str, str],
    metrics: ServeMetrics,
    ready: threading.Event,
    callers: dict[bytes, Any] | None = None,
    viewers: list[Any] | None = None,
) -> Starlette:
    """The ASGI application; `tokens`: the bearer token of each source (`receiver_tokens`);
    `ready` is cleared when the process starts to shut down; `callers`: the enqueue API's
    tokens (`api.api_tokens`; none: every API request is refused); `viewers`: the
    dashboard's (`ui.access.ui_viewers`; none: no dashboard)."""
    from pjobs.http.api import routes

    limit = app.settings.receiver.max_body_bytes
    most_alerts = app.settings.receiver.max_alerts
    expected = {source: f"Bearer {token}".encode() for source, token in tokens.items()}

    async def hook(request: Request) -> Response:
        source = request.path_params["source"]
        if source not in SOURCES:
            return JSONResponse({"error": f"no such hook: {source}"}, status_code=404)
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected[source]):
            return JSONResponse({"error": "a bearer token is needed"}, status_code=401)
        try:
            data = json.loads(await read_limited(request, limit), parse_constant=_not_json)
            alerts = parse(source, data, dict(app.settings.receiver.metric_names))
        except TooLarge:
            return JSONResponse({"error": f"the body is over {limit} bytes"}, status_code=413)
        except (ValueError, BadAlert) as exc:
            return JSONResponse({"error": f"invalid alert: {exc}"}, status_code=400)
        except RecursionError:
            return JSONResponse({"error": "invalid alert: nested too deeply"}, status_code=400)
        if len(alerts) > most_alerts:
            error = (
                f"{len(alerts)} alerts in one request; at most {most_alerts} (receiver.max_alerts)"
            )
            return JSONResponse({"error": error}, status_code=413)
        try:
            summary = await run_in_threadpool(receive, app, source, alerts)
        except PjobsError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse(summary, status_code=202)

    async def metrics_page(request: Request) -> Response:
        try:
            page = await run_in_threadpool(metrics.exposition)
        except PjobsError as exc:
            return Response(f"# {exc}\n", status_code=503, media_type="text/plain")
        return Response(page, media_type="text/plain; version=0.0.4; charset=utf-8")

    def database_answers() -> bool:
        return app.store.answers(HEALTH_TIMEOUT_SECONDS)

    async def healthz(request: Request) -> Response:
        ok = await run_in_threadpool(database_answers)
        return JSONResponse({"database": ok}, status_code=200 if ok else 503)

    async def openapi(request: Request) -> Response:
        return Response(openapi_document(), media_type="application/json")

    async def readyz(request: Request) -> Response:
        ok = ready.is_set() and await run_in_threadpool(database_answers)
        body = {"ready": ok, "shutting_down": not ready.is_set()}
        return JSONResponse(body, status_code=200 if ok else 503)

    return Starlette(
        routes=[
            Route("/hooks/{source}", hook, methods=["POST"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *routes(app, callers or {}, limit),
            *dashboard(app, viewers or []),
        ]
    )


def dashboard(app: App, viewers: list[Any]) -> list[Any]:
    """The dashboard's routes under /ui/, when it has a viewer (Jinja2 loads only then)."""
    if not viewers:
        return []
    from pjobs.http.ui.access import Access
    from pjobs.http.ui.pages import routes

    return routes(app, Access(viewers))


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT; an empty HOST is loopback (every address must be asked for: 0.0.0.0 or
    [::]), port 0 a free one."""
    from pjobs.errors import UsageError

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"invalid listen address {text!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


class Listener:
    """uvicorn on a thread of its own, on a socket bound at once (so a port in use is an
    error at start, exit 69, not a crash later)."""

    def __init__(self, asgi: Starlette, listen: str, settings: ReceiverSettings) -> None:
        import uvicorn

        from pjobs.http.bounded import bounded_protocol

        host, port = parse_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # named TCP, so that asyncio turns Nagle's algorithm off on each connection (with
        # protocol 0 it does not, and a kept-alive client's every answer waits 40 ms for
        # the delayed ACK of its head before its body is sent)
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as exc:
            self.socket.close()
            raise UnavailableError(f"cannot listen on {listen}: {exc.strerror}") from None
        self.socket.listen(128)
        self.address = f"{host}:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            asgi,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http=bounded_protocol(settings.max_connections, settings.read_timeout_seconds),
            timeout_keep_alive=5,
        )
        self.server: uvicorn.Server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="pjobs-http", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        except BaseException as exc:
            log.error("the HTTP listener stopped: %s: %s", type(exc).__name__, exc)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.socket.close()
