"""The enqueue API of `serve --http`: `POST /api/jobs` and `GET /api/jobs/{id}`, for a
platform's services in any language. Each token (`api.tokens`) may enqueue the job types
it names and read the jobs it enqueued; a job it enqueues is `requested_by` `api:NAME`.
The payload is checked before anything is written (400 naming the field); an
`Idempotency-Key` held by a queued or running job answers that job (200, not 201). The
secrets a job reveals (new API keys) are sealed to its token (`queue.reveal`) and shown
by `GET` once, to that token alone."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pjobs.errors import InvalidInputError, PjobsError

if TYPE_CHECKING:
    from pjobs.app import App
    from pjobs.settings.groups import ApiSettings

OPTIONS: dict[str, type | tuple[type, ...]] = {
    "queue": str,
    "priority": int,
    "delay_seconds": (int, float),
    "max_attempts": int,
}


@dataclass(frozen=True)
class Caller:
    name: str
    job_types: frozenset[str]
    private_key: Any  # what the secrets its jobs reveal are sealed to (`queue.reveal`)
    public_key: str

    @property
    def actor(self) -> str:
        return f"api:{self.name}"


def api_tokens(settings: ApiSettings, known: list[str]) -> dict[bytes, Caller]:
    """Each token's `Authorization` header, and who it is. ConfigError (78) for a token
    file that cannot be read, a token that can be guessed (`long_enough`), one given twice, or
    a job type this pjobs does not run."""
    from pjobs.errors import ConfigError
    from pjobs.queue.reveal import private_key_of, public_key_of
    from pjobs.settings.secretfile import long_enough, read_secret

    callers: dict[bytes, Caller] = {}
    for index, entry in enumerate(settings.tokens):
        where = f"api.tokens[{index}] ({entry.name})"
        read = read_secret(None, entry.token_file, f"the token of {where}") or ""
        token = long_enough(read, f"{where}: the token")
        unknown = sorted(set(entry.job_types) - set(known))
        if unknown:
            raise ConfigError(f"{where}: no job type {', '.join(unknown)} here")
        header = f"Bearer {token}".encode()
        if header in callers:
            raise ConfigError(f"{where}: the same token as {callers[header].name}")
        private = private_key_of(token)
        callers[header] = Caller(
            entry.name, frozenset(entry.job_types), private, public_key_of(private)
        )
    return callers


def routes(app: App, callers: dict[bytes, Caller], limit: int) -> list[Any]:
    from starlette.routing import Route

    from pjobs.http.bodies import TooLarge, read_limited

    def caller_of(request: Request) -> Caller | None:
        given = request.headers.get("authorization", "").encode()
        found = None
        for header, caller in callers.items():  # every one compared: no early answer
            if hmac.compare_digest(given, header):
                found = caller
        return found

    async def enqueue(request: Request) -> Response:
        caller = caller_of(request)
        if caller is None:
            return error(401, "a bearer token of api.tokens is needed")
        try:
            body = json.loads(await read_limited(request, limit))
        except TooLarge:
            return error(413, f"the body is over {limit} bytes")
        except ValueError:
            return error(400, "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return error(400, 'expected a JSON object with "type" (and "payload")')
        job_type = body["type"]
        if job_type not in caller.job_types:
            allowed = ", ".join(sorted(caller.job_types))
            return error(403, f"this token may enqueue {allowed}; not {job_type}")
        try:
            options = enqueue_options(body, request.headers.get("idempotency-key"), caller)
            payload = body.get("payload", {})
            result, job = await run_in_threadpool(enqueued, job_type, payload, options, caller)
        except InvalidInputError as exc:
            return error(400, str(exc))
        except PjobsError as exc:
            return error(503, str(exc))
        shown = {"id": job.id, "created": result.created, **described(job)}
        return JSONResponse(shown, status_code=201 if result.created else 200)

    def enqueued(job_type: str, payload: Any, options: Any, caller: Caller) -> Any:
        """The job enqueued (or the one holding its key), on one transaction with the key
        what it reveals is to be sealed to."""
        from pjobs.control import ControlPlane
        from pjobs.queue.enqueue import enqueue_on

        with ControlPlane(app.store).tx(app.clock.now()) as tx:
            (result,) = enqueue_on(tx, app.registry, app.settings, [(job_type, payload)], options)
            if result.created:
                tx.jobs.set_reveal_to(result.id, caller.public_key)
            return result, tx.jobs.get(result.id)

    def shown(job_id: int, caller: Caller) -> dict[str, Any] | None:
        """The job for its token (None: no such job, or another's), with what it revealed
        the first time it is asked for after that."""
        from pjobs.control import ControlPlane
        from pjobs.queue.reveal import open_sealed

        with ControlPlane(app.store).tx(app.clock.now()) as tx:
            job = tx.jobs.get(job_id)
            if job is None or job.requested_by != caller.actor:  # others' are not seen
                return None
            sealed = tx.jobs.take_reveal(job_id)
        found = {"id": job.id, **described(job)}
        if sealed is not None:
            found["revealed"] = open_sealed(caller.private_key, sealed)
        return found

    async def show(request: Request) -> Response:
        caller = caller_of(request)
        if caller is None:
            return error(401, "a bearer token of api.tokens is needed")
        text = request.path_params["job_id"]
        if not text.isdigit():
            return error(404, f"no job {text}")
        try:
            found = await run_in_threadpool(shown, int(text), caller)
        except PjobsError as exc:
            return error(503, str(exc))
        if found is None:
            return error(404, f"no job {text}")
        return JSONResponse(found)

    return [
        Route("/api/jobs", enqueue, methods=["POST"]),
        Route("/api/jobs/{job_id}", show, methods=["GET"]),
    ]


def enqueue_options(body: dict[str, Any], key: str | None, caller: Caller) -> Any:
    """The body's options (InvalidInputError naming one of the wrong type)."""
    from pjobs.queue.enqueue import EnqueueOptions

    extra = sorted(set(body) - {"type", "payload", *OPTIONS})
    if extra:
        raise InvalidInputError(
            f"unknown field {extra[0]} (fields: type, payload, {', '.join(OPTIONS)})"
        )
    for name, kind in OPTIONS.items():
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise InvalidInputError(f"{name}: expected {'text' if kind is str else 'a number'}")
    delay = body.get("delay_seconds")
    return EnqueueOptions(
        queue=body.get("queue"),
        priority=body.get("priority") or 0,
        delay=None if delay is None else timedelta(seconds=delay),
        max_attempts=body.get("max_attempts"),
        idempotency_key=key,
        requested_by=caller.actor,
    )


def described(job: Any) -> dict[str, Any]:
    """A job as the API shows it: its fields, times in ISO 8601."""
    fields = ("type", "queue", "state", "attempts", "max_attempts", "result", "last_error")
    times = ("created_at", "run_at", "started_at", "finished_at")
    shown = {name: getattr(job, name) for name in (*fields, *times)}
    return shown | {name: shown[name] and shown[name].isoformat() for name in times}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
