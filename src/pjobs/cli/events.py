"""`pjobs events …`: the platform events, the outbox webhooks are fed from."""

from __future__ import annotations

from typing import Annotated

import typer

from pjobs.cli import completion
from pjobs.cli.options import JsonOption, LimitOption, ProjectFilterOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="Platform events (the outbox webhooks are fed from).", no_args_is_help=True)


@app.command("list")
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
