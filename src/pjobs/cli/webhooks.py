"""`pjobs webhooks …`: endpoints (add, list, show, enable, disable, remove, rotate-secret),
their deliveries and replays; and `pjobs deliver-webhook`, which sends an event to one."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli import completion
from pjobs.cli.jobrun import RunOptions, handler_command, prepare, run_and_report
from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import (
    DryRunOption,
    JsonOption,
    ProjectArgument,
    ProjectFilterOption,
    SinceOption,
    YesOption,
    duration_option,
)
from pjobs.cli.runtime import Runtime, runtime

if TYPE_CHECKING:
    from pjobs.control import ControlTx

app = typer.Typer(
    help="Webhook endpoints, their deliveries and replays; events are signed per "
    "Standard Webhooks.",
    no_args_is_help=True,
)
EndpointArgument = Annotated[str, typer.Argument(metavar="ENDPOINT_ID")]
ENDPOINT_COLUMNS = Columns(
    ("id", ("project", "project_id"), "url", "enabled", ("failures", "consecutive_failures")),
    keep=("enabled",),
    wide=("events", "disabled_reason", "description", "created_at"),
)


def endpoint_of(rt: Runtime, endpoint_id: str) -> Any:
    """The endpoint, or NotFoundError (4)."""
    from pjobs.errors import found

    with rt.control() as tx:
        return found(tx.webhooks.endpoint(endpoint_id), "webhook endpoint", endpoint_id)


def public(endpoint: Any) -> dict[str, Any]:
    """An endpoint as shown: never its sealed secrets."""
    shown: dict[str, Any] = dataclasses.asdict(endpoint)
    for sealed in ("secret", "previous_secret"):
        shown.pop(sealed)
    return shown


def show_secret(endpoint_id: str, secret: str, as_json: bool, data: dict[str, Any]) -> None:
    from pjobs.cli.output import print_fields, print_json, print_lines

    if as_json:
        print_json({**data, "id": endpoint_id, "secret": secret})
        return
    print_fields([("endpoint", endpoint_id), *data.items()])
    print_lines(["", "Signing secret (shown this once; store it now):", f"  {secret}"])


@app.command("add")
def add(
    ctx: typer.Context,
    project_id: ProjectArgument,
    url: Annotated[str, typer.Argument(metavar="URL", help="http(s) URL of a public host.")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            "-e",
            help="Event it wants (repeatable; default: every one).",
            autocompletion=completion.event_names,
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Use the whsec_ secret piped to stdin.")
    ] = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add an endpoint to a project; print its id and signing secret (shown this once).

    Example: pjobs webhooks add proj-123 https://example.com/in -e webhook.test
    """
    import sys

    from pjobs import ids
    from pjobs.cli.output import message, print_json
    from pjobs.domain.webhooks import add_endpoint, check_endpoint
    from pjobs.errors import UsageError

    rt = runtime(ctx)
    ids.PROJECT_ID.check(project_id)
    if description is not None:
        ids.check_text(description, "description", 500)
    secret = None
    if secret_stdin:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("--secret-stdin: pipe the secret to stdin")
        secret = sys.stdin.read(1024).strip()
    sender = rt.app().integrations.webhooks
    events = check_endpoint(sender, url, event or [], secret)
    rt.project(project_id)
    if dry_run:
        message(f"dry run: would add an endpoint to {project_id}; nothing is changed", rt.quiet)
        if as_json:
            print_json({"dry_run": True, "url": url, "events": events})
        return
    with rt.control(write=True) as tx:
        endpoint_id, secret = add_endpoint(
            tx, rt.settings(), sender, project_id, url, events, description, rt.actor(), secret
        )
    show_secret(endpoint_id, secret, as_json, {"url": url, "events": events})


@app.command("list")
@list_options(1000)
def list_endpoints(ctx: typer.Context, view: ListView, project: ProjectFilterOption = None) -> None:
    """Endpoints (never their secrets), by project.

    Example: pjobs webhooks list --project proj-123
    """
    rt = runtime(ctx)
    project = rt.project_filter(project)
    page = rt.reader(
        lambda tx: [public(e) for e in tx.webhooks.endpoints(project, view.limit, view.offset)]
    )
    print_listing(view, "endpoints", page, ENDPOINT_COLUMNS)


@app.command("show")
def show(ctx: typer.Context, endpoint_id: EndpointArgument, as_json: JsonOption = False) -> None:
    """One endpoint (never its secret).

    Example: pjobs webhooks show we_0123456789abcdef
    """
    from pjobs.cli.output import print_fields, print_json

    shown = public(endpoint_of(runtime(ctx), endpoint_id))
    if as_json:
        print_json(shown)
    else:
        print_fields(list(shown.items()))


def switch_command(verb: str, enabled: bool, summary: str) -> None:
    """Register `webhooks enable` or `webhooks disable`."""

    def switch(
        ctx: typer.Context,
        endpoint_id: EndpointArgument,
        dry_run: DryRunOption = False,
        as_json: JsonOption = False,
    ) -> None:
        from pjobs.cli.output import report_switch
        from pjobs.domain.webhooks import switch_endpoint

        rt = runtime(ctx)
        endpoint = endpoint_of(rt, endpoint_id)
        changed = endpoint.enabled != enabled
        if changed and not dry_run:
            with rt.control(write=True) as tx:
                switch_endpoint(tx, endpoint, enabled, rt.actor())
        data = {"id": endpoint_id, "enabled": enabled} if as_json else None
        state = "enabled" if enabled else "disabled"
        report_switch(f"endpoint {endpoint_id}", state, changed, dry_run, rt.quiet, data)

    switch.__doc__ = f"{summary}\n\nExample: pjobs webhooks {verb} we_0123456789abcdef"
    app.command(verb)(switch)


switch_command("enable", True, "Enable an endpoint again (its failures in a row start at 0).")
switch_command("disable", False, "Disable an endpoint: no deliveries until enabled.")


@app.command("remove")
def remove(
    ctx: typer.Context,
    endpoint_id: EndpointArgument,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Remove an endpoint and its deliveries.

    Example: pjobs webhooks remove we_0123456789abcdef --yes
    """
    from pjobs.cli.output import message, print_json
    from pjobs.cli.prompts import confirm

    rt = runtime(ctx)
    endpoint = endpoint_of(rt, endpoint_id)
    if dry_run:
        message(
            f"dry run: would remove {endpoint_id} ({endpoint.url}) and its deliveries", rt.quiet
        )
        if as_json:
            print_json({"id": endpoint_id, "removed": False, "dry_run": True})
        return
    confirm(rt, f"Remove endpoint {endpoint_id} and its deliveries?", yes)
    with rt.control(write=True) as tx:
        tx.webhooks.remove(endpoint_id)
        tx.audit.append(
            rt.actor(),
            "webhook.removed",
            endpoint.project_id,
            f"webhook:{endpoint_id}",
            {"url": endpoint.url},
        )
    message(f"removed {endpoint_id}", rt.quiet)
    if as_json:
        print_json({"id": endpoint_id, "removed": True, "dry_run": False})


@app.command("rotate-secret")
def rotate_secret(
    ctx: typer.Context,
    endpoint_id: EndpointArgument,
    grace: Annotated[
        str, duration_option("--grace", "The old secret signs too for this long.")
    ] = "24h",
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Give an endpoint a new signing secret (shown this once); during the grace, both
    sign every delivery (space-separated signatures, as Standard Webhooks allows).

    Example: pjobs webhooks rotate-secret we_0123456789abcdef --grace 24h
    """
    from pjobs.cli.output import message
    from pjobs.domain.webhooks import rotate_endpoint_secret
    from pjobs.timeutil import parse_duration

    rt = runtime(ctx)
    period = parse_duration(grace)
    endpoint = endpoint_of(rt, endpoint_id)
    if dry_run:
        message(f"dry run: would rotate {endpoint_id}'s secret, old one valid {grace}", rt.quiet)
        return
    with rt.control(write=True) as tx:
        secret = rotate_endpoint_secret(tx, rt.settings(), endpoint, period, rt.actor())
        until = tx.now + period
    show_secret(endpoint_id, secret, as_json, {"old_secret_valid_until": until})


StateOption = Annotated[str | None, typer.Option("--state", help="pending, delivered or failed.")]
DELIVERY_COLUMNS = Columns(
    ("id", "event_type", "state", "attempts", "last_status", "last_error", "next_attempt_at"),
    keep=("state", "last_error"),
    wide=("created_at", "finished_at", "job_id"),
)
ATTEMPT_COLUMNS = ("delivery_id", "attempt", "at", "status", "latency_ms", "error", "response")


def check_state(state: str | None) -> None:
    from pjobs.errors import UsageError

    if state not in (None, "pending", "delivered", "failed"):
        raise UsageError("--state is pending, delivered or failed")


@app.command("deliveries")
@list_options(50, watch=True)
def deliveries(
    ctx: typer.Context, view: ListView, endpoint_id: EndpointArgument, state: StateOption = None
) -> None:
    """An endpoint's deliveries, newest first, each with its attempts (time, status,
    latency, error, the first KiB of the response, next retry).

    Example: pjobs webhooks deliveries we_0123456789abcdef --state failed
    """
    from pjobs.cli.output import print_records

    check_state(state)
    rt = runtime(ctx)
    endpoint_of(rt, endpoint_id)

    def page(tx: ControlTx) -> list[dict[str, Any]]:
        found = tx.webhooks.deliveries(endpoint_id, state, None, view.limit, view.offset)
        return [
            {**dataclasses.asdict(d), "attempts_log": tx.webhooks.attempts(d.id)} for d in found
        ]

    for delivery in print_listing(view, "deliveries", rt.reader(page), DELIVERY_COLUMNS):
        if delivery["attempts_log"]:
            print_records("attempts", delivery["attempts_log"], ATTEMPT_COLUMNS, False)


@app.command("replay")
def replay(
    ctx: typer.Context,
    delivery_id: Annotated[
        str | None, typer.Argument(metavar="DELIVERY_ID", help="One delivery.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Every delivery of this endpoint…")
    ] = None,
    since: SinceOption = None,
    state: StateOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Send deliveries again (the same webhook-id; `pjobs serve` sends them): one by id, or
    an endpoint's, e.g. after an outage: --endpoint ID --since 2h --state failed.

    Example: pjobs webhooks replay --endpoint we_0123456789abcdef --since 2h
    """
    from pjobs.cli.output import message, print_json, print_lines
    from pjobs.domain.webhooks import enqueue_delivery
    from pjobs.errors import InvalidStateError, UsageError, found

    check_state(state)
    if (delivery_id is None) == (endpoint is None):
        raise UsageError("give a DELIVERY_ID, or --endpoint ID (one of them)")
    if delivery_id is not None and (since or state):
        raise UsageError("--since and --state go with --endpoint")
    rt = runtime(ctx)
    start = rt.since(since)
    with rt.control(write=not dry_run) as tx:
        if delivery_id is not None:
            chosen = [found(tx.webhooks.delivery(delivery_id), "webhook delivery", delivery_id)]
            endpoint = chosen[0].endpoint_id
        else:
            assert endpoint is not None
            chosen = tx.webhooks.deliveries(endpoint, state, start, 100_000)
        target = found(tx.webhooks.endpoint(endpoint), "webhook endpoint", endpoint)
        if not target.enabled:  # the job would only fail: say so, and how to go on
            raise InvalidStateError(
                f"webhook endpoint {target.id} is disabled ({target.disabled_reason}): "
                f"`pjobs webhooks enable {target.id}` first"
            )
        chosen = [d for d in chosen if d.state != "pending"]
        if not dry_run:
            for delivery in chosen:
                tx.webhooks.reopen(delivery.id)
                enqueue_delivery(tx, rt.app().registry, rt.settings(), delivery.id, rt.actor())
            if chosen:
                tx.audit.append(
                    rt.actor(),
                    "webhook.replayed",
                    None,
                    None,
                    {"deliveries": [d.id for d in chosen]},
                )
    verb = "would replay" if dry_run else "replaying"
    message(f"{verb} {len(chosen)} deliver{'y' if len(chosen) == 1 else 'ies'}", rt.quiet)
    if as_json:
        print_json({"dry_run": dry_run, "replayed": [d.id for d in chosen]})
    else:
        print_lines([d.id for d in chosen])


@handler_command()
def deliver_webhook(
    ctx: typer.Context,
    endpoint_id: EndpointArgument,
    run: RunOptions,
    event: Annotated[
        str,
        typer.Option(
            "--event", help="Event type, e.g. webhook.test.", autocompletion=completion.event_names
        ),
    ] = "webhook.test",
    payload: Annotated[
        str, typer.Option("--payload", "-p", help="JSON object, @FILE, or - for stdin.")
    ] = "{}",
) -> None:
    """Send one event to one endpoint, signed, retried like any delivery.

    Example: pjobs deliver-webhook we_0123456789abcdef -p '{"hello": 1}'
    """
    from pjobs.cli.inputs import read_json_argument
    from pjobs.cli.lifecycle import print_plan
    from pjobs.domain.webhooks import body_of, check_event, new_delivery_id
    from pjobs.errors import InvalidInputError

    rt = runtime(ctx)
    settings = rt.settings()
    check_event(event)
    data = read_json_argument(payload, settings.max_payload_bytes)
    if not isinstance(data, dict):
        raise InvalidInputError("the payload must be a JSON object")
    found = endpoint_of(rt, endpoint_id)
    target = rt.app().integrations.webhooks.check(found.url)
    if run.dry_run:
        plan = [("post", f"{event} to {target.url}"), ("sign", "webhook-id, timestamp, v1")]
        print_plan(rt, f"deliver {event} to {endpoint_id}", plan, run.as_json)
        return
    delivery_id = new_delivery_id()
    with rt.control(write=True) as tx:
        tx.webhooks.add_delivery(delivery_id, endpoint_id, event, body_of(event, data, tx.now))
    attempts = run.max_attempts or settings.webhooks.max_attempts
    run = dataclasses.replace(run, max_attempts=attempts)
    run_and_report(
        rt, prepare(rt, "deliver_webhook", {"delivery_id": delivery_id}, run), run, render_delivery
    )


def render_delivery(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_fields

    print_fields(list(result.items()))
