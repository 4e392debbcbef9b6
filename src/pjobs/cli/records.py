"""`pjobs audit …` and `pjobs notifications …`."""

from __future__ import annotations

from typing import Annotated

import typer

from pjobs.cli.options import JsonOption
from pjobs.cli.runtime import runtime

audit_app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)
notifications_app = typer.Typer(help="The notification outbox.", no_args_is_help=True)


@audit_app.command("list")
def list_audit(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project's events.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events since: an ISO time or a duration ago (2h).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Audit events, oldest first."""
    from pjobs.cli.output import print_json, print_table
    from pjobs.timeutil import parse_time

    rt = runtime(ctx)
    start = parse_time(since, rt.clock()) if since else None
    with rt.control() as tx:
        events = tx.list_audit(project, start, limit)
    if as_json:
        print_json({"events": events})
        return
    print_table(
        ("id", "at", "actor", "action", "project", "target", "data"),
        [(e.id, e.at, e.actor, e.action, e.project_id, e.target, e.data) for e in events],
    )


@notifications_app.command("list")
def list_notifications(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project's.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, sent or failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Notifications, oldest first, with channel and delivery state."""
    from pjobs.cli.output import print_json, print_table
    from pjobs.errors import UsageError

    if state not in (None, "pending", "sent", "failed"):
        raise UsageError("--state is pending, sent or failed")
    rt = runtime(ctx)
    with rt.control() as tx:
        notes = tx.list_notifications(project, state, limit)
    if as_json:
        print_json({"notifications": notes})
        return
    print_table(
        (
            "id",
            "created_at",
            "project",
            "recipient",
            "channel",
            "state",
            "attempts",
            "subject",
            "last_error",
        ),
        [
            (
                n.id,
                n.created_at,
                n.project_id,
                n.recipient,
                n.channel,
                n.state,
                n.attempts,
                n.subject,
                n.last_error,
            )
            for n in notes
        ],
    )


@notifications_app.command("send")
def send_notifications(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Deliver the notifications that are due (retries included; also done by serve)."""
    from pjobs.cli.output import print_json, print_lines

    sent, unsent = runtime(ctx).queue().adapters.notifier.deliver_due(limit=10_000)
    if as_json:
        print_json({"sent": sent, "not_sent": unsent})
    else:
        print_lines([f"sent {sent}, not sent {unsent}"])
