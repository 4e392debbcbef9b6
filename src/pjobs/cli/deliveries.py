"""`pjobs webhooks deliveries`, `pjobs webhooks replay`, `pjobs deliver-webhook` and
`pjobs events list`: what was sent where, and sending it again."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from pjobs.cli import completion
from pjobs.cli.jobrun import RunOptions, handler_command, run_and_report
from pjobs.cli.options import (
    DryRunOption,
    JsonOption,
    LimitOption,
    ProjectFilterOption,
    SinceOption,
)
from pjobs.cli.runtime import runtime
from pjobs.cli.webhooks import EndpointArgument, app, endpoint_of

events_app = typer.Typer(
    help="Platform events (the outbox webhooks are fed from).", no_args_is_help=True
)
StateOption = Annotated[str | None, typer.Option("--state", help="pending, delivered or failed.")]
DELIVERY_COLUMNS = (
    "id",
    "event_type",
    "state",
    "attempts",
    "last_status",
    "last_error",
    "created_at",
)


def check_state(state: str | None) -> None:
    from pjobs.errors import UsageError

    if state not in (None, "pending", "delivered", "failed"):
        raise UsageError("--state is pending, delivered or failed")


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    endpoint_id: EndpointArgument,
    state: StateOption = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """An endpoint's deliveries, newest first, each with its attempts (time, status,
    latency, error, the first KiB of the response, next retry).

    Example: pjobs webhooks deliveries we_0123456789abcdef --state failed
    """
    from pjobs.cli.output import print_json, print_records

    check_state(state)
    rt = runtime(ctx)
    endpoint_of(rt, endpoint_id)
    with rt.control() as tx:
        found = tx.webhooks.deliveries(endpoint_id, state, None, limit)
        attempts = {d.id: tx.webhooks.attempts(d.id) for d in found}
    if as_json:
        print_json(
            {
                "deliveries": [
                    {**dataclasses.asdict(d), "attempts_log": attempts[d.id]} for d in found
                ]
            }
        )
        return
    print_records("deliveries", found, (*DELIVERY_COLUMNS, "next_attempt_at"), False)
    for delivery in found:
        if attempts[delivery.id]:
            print_records(
                "attempts",
                attempts[delivery.id],
                ("delivery_id", "attempt", "at", "status", "latency_ms", "error", "response"),
                False,
            )


@app.command("replay")
def replay(
    ctx: typer.Context,
    delivery_id: Annotated[str | None, typer.Argument(metavar="[DELIVERY_ID]")] = None,
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

    Example: pjobs webhooks replay --endpoint we_0123456789abcdef --since 2h --state failed
    """
    from pjobs.cli.output import message, print_json, print_lines
    from pjobs.domain.webhooks import enqueue_delivery
    from pjobs.errors import UsageError, found

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
        else:
            assert endpoint is not None
            found(tx.webhooks.endpoint(endpoint), "webhook endpoint", endpoint)
            chosen = tx.webhooks.deliveries(endpoint, state, start, 100_000)
        chosen = [d for d in chosen if d.state != "pending"]
        if not dry_run:
            for delivery in chosen:
                tx.webhooks.reopen(delivery.id)
                enqueue_delivery(tx, rt.registry(), rt.settings(), delivery.id, rt.actor())
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

    Example: pjobs deliver-webhook we_0123456789abcdef --event webhook.test -p '{"hello": 1}'
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
    run_and_report(rt, "deliver_webhook", {"delivery_id": delivery_id}, run, render_delivery)


def render_delivery(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_fields

    print_fields(list(result.items()))


@events_app.command("list")
def list_events(
    ctx: typer.Context,
    project: ProjectFilterOption = None,
    event_type: Annotated[
        str | None,
        typer.Option("--type", help="Only this event type.", autocompletion=completion.event_names),
    ] = None,
    limit: LimitOption = 1000,
    as_json: JsonOption = False,
) -> None:
    """Platform events, oldest first.

    Example: pjobs events list --project proj-123 --type project.suspended
    """
    from pjobs.cli.output import print_records

    rt = runtime(ctx)
    project = rt.project_filter(project)
    with rt.control() as tx:
        found = tx.events.list(project, event_type, limit)
    print_records(
        "events", found, ("id", "at", "type", ("project", "project_id"), "actor", "data"), as_json
    )
