"""The dashboard's routes under /ui/ (Starlette) and its pages (Jinja2, every value
escaped, and with control and bidi characters shown as the CLI shows them). Pages are
rendered on the server and update themselves (`static/ui.js` fetches the page again every
`ui.refresh_seconds` while it is visible and swaps its live parts); no script or style
comes from anywhere but /ui/static (Content-Security-Policy)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pjobs.errors import InvalidInputError, NotFoundError, PjobsError
from pjobs.http.ui import actions, views
from pjobs.http.ui.access import COOKIE, Access, Viewer

if TYPE_CHECKING:
    from jinja2 import Environment

    from pjobs.app import App

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
}
Handler = Callable[[Request], Awaitable[Response]]
FORM_BYTES = 16_384  # the largest form a page sends (a filter and a token or two)


def environment() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    from pjobs.shown import cell, json_text, visible

    def shown(value: Any) -> Any:
        return value if isinstance(value, Markup) else visible(cell(value))

    env = Environment(
        loader=PackageLoader("pjobs.http.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=shown,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def lines(text: str | None) -> Markup:
        """Text of several lines (a traceback): each line escaped, the breaks kept."""
        return Markup("\n").join(visible(line) for line in str(text or "").split("\n"))

    def as_json(value: Any) -> Markup:
        """A value as indented JSON, as `--json` prints it."""
        return lines(json_text(value))

    env.filters["lines"] = lines
    env.filters["json"] = as_json
    return env


def routes(app: App, access: Access) -> list[Any]:
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    env = environment()
    tallies = views.Tallies(app)
    refresh = app.settings.ui.refresh_seconds

    def page(
        request: Request, viewer: Viewer | None, name: str, data: dict[str, Any], code: int = 200
    ) -> Response:
        shared = {"viewer": viewer, "path": request.url.path, "refresh": refresh}
        body = env.get_template(name).render(data | shared)
        return HTMLResponse(body, status_code=code, headers=HEADERS)

    def said(request: Request, viewer: Viewer | None, message: str, code: int) -> Response:
        return page(request, viewer, "message.html", {"message": message}, code)

    def problem(request: Request, viewer: Viewer | None, exc: PjobsError) -> Response:
        code = 404 if isinstance(exc, NotFoundError) else 503
        return said(request, viewer, str(exc), 400 if isinstance(exc, InvalidInputError) else code)

    def viewing(render: Callable[[Request, Viewer], tuple[str, dict[str, Any]]]) -> Handler:
        """A page for a signed-in viewer (else the sign-in form): `render` names its
        template and what it shows."""

        async def handle(request: Request) -> Response:
            viewer = access.of(request)
            if viewer is None:
                return RedirectResponse("/ui/login", status_code=303, headers=HEADERS)
            try:
                result = await run_in_threadpool(render, request, viewer)
            except PjobsError as exc:
                return problem(request, viewer, exc)
            name, data = result
            return page(request, viewer, name, data)

        return handle

    def acting(act: Callable[[Request, Viewer, dict[str, str]], str]) -> Handler:
        """An action: a viewer who may act, from a same-origin form with its CSRF token."""

        async def handle(request: Request) -> Response:
            viewer = access.of(request)
            if viewer is None:
                return said(request, None, "sign in first", 401)
            form = await form_of(request)
            if not viewer.actions:
                message = f"{viewer.name} may look, not act (read-only: ui.tokens actions)"
                return said(request, viewer, message, 403)
            if not access.may_act(request, viewer, form.get("csrf", "")):
                return said(request, viewer, "a stale or foreign form", 403)
            try:
                done = await run_in_threadpool(act, request, viewer, form)
            except PjobsError as exc:
                return problem(request, viewer, exc)
            back = form.get("back", "/ui/")
            back = back if back.startswith("/ui/") and "//" not in back else "/ui/"
            return page(request, viewer, "message.html", {"message": done, "back": back})

        return handle

    # -- signing in ---------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        return page(request, None, "login.html", {})

    async def login(request: Request) -> Response:
        form = await form_of(request)
        token = form.get("token")
        viewer = access.by_token(token) if isinstance(token, str) else None
        if viewer is None:
            message = {"message": "that token opens nothing here"}
            return page(request, None, "login.html", message, 401)
        response = RedirectResponse("/ui/", status_code=303, headers=HEADERS)
        secure = (
            request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        )
        response.set_cookie(
            COOKIE, viewer.session, httponly=True, samesite="strict", secure=secure, path="/ui"
        )
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/ui/login", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE, path="/ui")
        return response

    # -- pages --------------------------------------------------------------------------

    def control(write: bool = False) -> Any:
        from pjobs.control import ControlPlane

        return ControlPlane(app.store).tx(app.clock.now(), write)

    def overview(request: Request, viewer: Viewer) -> Any:
        window = request.query_params.get("window", "hour")
        if window not in views.WINDOWS:
            raise InvalidInputError(f"no window {window[:20]!r}: hour or day")
        tally = tallies.get()
        with control() as tx:
            return "overview.html", views.overview(app, tx, tally, window)

    def jobs(request: Request, viewer: Viewer) -> Any:
        query = dict(request.query_params)
        found = views.job_filter(app, query)
        with control() as tx:
            data = views.jobs(app, tx, found, _int(query.get("before")))
        return "jobs.html", data | {"query": query}

    def job(request: Request, viewer: Viewer) -> Any:
        return "job.html", views.job(app, request.path_params["job_id"])

    def bulk_confirm(request: Request, viewer: Viewer) -> Any:
        query = dict(request.query_params)
        found = views.job_filter(app, query)
        action = query.get("action", "")
        actions.bulk_states(action, found)
        with control() as tx:
            count = tx.jobs.count_matching(found)
        return "confirm.html", {"verb": action, "filter": found, "count": count, "query": query}

    def projects(request: Request, viewer: Viewer) -> Any:
        status = request.query_params.get("status") or None
        with control() as tx:
            data = views.projects(app, tx, status, _int(request.query_params.get("offset")) or 0)
        return "projects.html", data

    def project(request: Request, viewer: Viewer) -> Any:
        with control() as tx:
            return "project.html", views.project(app, tx, request.path_params["project_id"])

    def alerts(request: Request, viewer: Viewer) -> Any:
        from pjobs.timeutil import parse_time

        since = request.query_params.get("since") or "24h"
        with control() as tx:
            return "alerts.html", views.alerts(tx, parse_time(since, app.clock)) | {"since": since}

    def webhooks(request: Request, viewer: Viewer) -> Any:
        with control() as tx:
            return "webhooks.html", views.webhooks(tx)

    def backups(request: Request, viewer: Viewer) -> Any:
        with control() as tx:
            return "backups.html", views.backups(tx)

    def schedules(request: Request, viewer: Viewer) -> Any:
        with control() as tx:
            return "schedules.html", views.schedules(app, tx)

    # -- actions ------------------------------------------------------------------------

    def job_action(request: Request, viewer: Viewer, form: dict[str, str]) -> str:
        job_id, verb = request.path_params["job_id"], request.path_params["verb"]
        if verb not in ("retry", "cancel"):
            raise NotFoundError(f"no action {verb[:20]!r}: retry or cancel")
        if verb == "retry":
            return actions.retry_job(app, viewer, job_id)
        return actions.cancel_job(app, viewer, job_id)

    def bulk_action(request: Request, viewer: Viewer, form: dict[str, str]) -> str:
        found = views.job_filter(app, form)
        confirmed = _int(form.get("count")) or 0
        return actions.bulk(app, viewer, form.get("action", ""), found, confirmed)

    def run_schedule(request: Request, viewer: Viewer, form: dict[str, str]) -> str:
        return actions.run_schedule(app, viewer, request.path_params["name"])

    def switch_endpoint(request: Request, viewer: Viewer, form: dict[str, str]) -> str:
        verb = request.path_params["verb"]
        if verb not in ("enable", "disable"):
            raise NotFoundError(f"no action {verb[:20]!r}: enable or disable")
        enabled = verb == "enable"
        return actions.switch_endpoint(app, viewer, request.path_params["endpoint_id"], enabled)

    def resume(request: Request, viewer: Viewer, form: dict[str, str]) -> str:
        return actions.resume_project(app, viewer, request.path_params["project_id"])

    async def home(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=307)

    return [
        Route("/ui", home),
        Route("/ui/login", login_form, methods=["GET"]),
        Route("/ui/login", login, methods=["POST"]),
        Route("/ui/logout", logout, methods=["POST"]),
        Route("/ui/", viewing(overview)),
        Route("/ui/jobs", viewing(jobs)),
        Route("/ui/jobs/bulk", viewing(bulk_confirm), methods=["GET"]),
        Route("/ui/jobs/bulk", acting(bulk_action), methods=["POST"]),
        Route("/ui/jobs/{job_id:int}", viewing(job)),
        Route("/ui/jobs/{job_id:int}/{verb:str}", acting(job_action), methods=["POST"]),
        Route("/ui/projects", viewing(projects)),
        Route("/ui/projects/{project_id:str}", viewing(project)),
        Route("/ui/projects/{project_id:str}/resume", acting(resume), methods=["POST"]),
        Route("/ui/alerts", viewing(alerts)),
        Route("/ui/webhooks", viewing(webhooks)),
        Route(
            "/ui/webhooks/{endpoint_id:str}/{verb:str}", acting(switch_endpoint), methods=["POST"]
        ),
        Route("/ui/backups", viewing(backups)),
        Route("/ui/schedules", viewing(schedules)),
        Route("/ui/schedules/{name:str}/run", acting(run_schedule), methods=["POST"]),
        Mount("/ui/static", StaticFiles(packages=[("pjobs.http.ui", "static")]), name="static"),
    ]


async def form_of(request: Request) -> dict[str, str]:
    """A form's fields (URL-encoded, as the pages send them; at most FORM_BYTES)."""
    from urllib.parse import parse_qsl

    from pjobs.http.bodies import TooLarge, read_limited

    try:
        body = await read_limited(request, FORM_BYTES)
        return dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=50))
    except (TooLarge, ValueError):
        return {}  # (an action without its CSRF token is refused; a sign-in, unknown)


def _int(text: str | None) -> int | None:
    """A positive whole number from a query string or form; InvalidInputError otherwise."""
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 18:
        raise InvalidInputError(f"not a number: {text[:20]!r}")
    return int(text)
