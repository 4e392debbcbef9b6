"""`pjobs notifications …`: the outbox of messages to owners and operators."""

from __future__ import annotations

from typing import Annotated

import typer

from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import DryRunOption, JsonOption, ProjectFilterOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="The notification outbox.", no_args_is_help=True)

NOTIFICATION_COLUMNS = Columns(
    ("id", "created_at", ("project", "project_id"), "recipient", "channel", "state", "subject"),
    keep=("state",),
    wide=("attempts", "last_error"),
)


@app.command("list")
@list_options(1000)
def list_notifications(
    ctx: typer.Context,
    view: ListView,
    project: ProjectFilterOption = None,
    state: Annotated[str | None, typer.Option(help="pending, sent or failed.")] = None,
) -> None:
    """Notifications, newest first, with channel and delivery state.

    Example: pjobs notifications list --state failed
    """
    from pjobs.errors import UsageError

    if state not in (None, "pending", "sent", "failed"):
        raise UsageError("--state is pending, sent or failed")
    rt = runtime(ctx)
    project = rt.project_filter(project)
    page = rt.reader(lambda tx: tx.notifications.list(project, state, view.limit, view.offset))
    print_listing(view, "notifications", page, NOTIFICATION_COLUMNS)


@app.command("send")
def send_notifications(
    ctx: typer.Context, dry_run: DryRunOption = False, as_json: JsonOption = False
) -> None:
    """Deliver the notifications that are due (retries included; also done by serve).

    Example: pjobs notifications send --dry-run
    """
    from pjobs.cli.output import message, print_json, print_lines

    rt = runtime(ctx)
    if dry_run:
        with rt.control() as tx:
            due = tx.notifications.due(10_000)
        message(f"dry run: would send {len(due)} notification(s); nothing is changed", rt.quiet)
        if as_json:
            print_json({"dry_run": True, "due": [note.id for note in due]})
        return
    sent, unsent = rt.app().notifier.deliver_due(limit=10_000)
    if as_json:
        print_json({"sent": sent, "not_sent": unsent})
    else:
        print_lines([f"sent {sent}, not sent {unsent}"])
