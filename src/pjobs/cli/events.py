"""`pjobs events …`: the platform events, the outbox webhooks are fed from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli import completion
from pjobs.cli.listing import (
    Columns,
    LastOption,
    ListView,
    field_of,
    follow,
    list_options,
    print_listing,
)
from pjobs.cli.options import ProjectFilterOption
from pjobs.cli.runtime import runtime

if TYPE_CHECKING:
    from pjobs.control.events import Event

app = typer.Typer(help="Platform events (the outbox webhooks are fed from).", no_args_is_help=True)


EVENT_COLUMNS = Columns(
    ("id", "at", "type", ("project", "project_id"), "actor", "data"), keep=("type", "data")
)
EventTypeOption = Annotated[
    str | None,
    typer.Option("--type", help="Only this event type.", autocompletion=completion.event_names),
]


@app.command("list")
@list_options(1000)
def list_events(
    ctx: typer.Context,
    view: ListView,
    project: ProjectFilterOption = None,
    event_type: EventTypeOption = None,
) -> None:
    """Platform events, newest first.

    Example: pjobs events list --project proj-123 --type project.suspended
    """
    rt = runtime(ctx)
    project = rt.project_filter(project)
    page = rt.reader(lambda tx: tx.events.list(project, event_type, view.limit, view.offset))
    print_listing(view, "events", page, EVENT_COLUMNS)


@app.command("tail")
def tail_events(
    ctx: typer.Context,
    project: ProjectFilterOption = None,
    event_type: EventTypeOption = None,
    last: LastOption = 10,
) -> None:
    """Follow platform events as they are added: the last ones, then each new one, a line
    each, until Ctrl-C (PostgreSQL wakes it at once; SQLite is read every second).

    Example: pjobs events tail --project proj-123
    """
    import threading

    rt = runtime(ctx)
    project = rt.project_filter(project)
    store, stop = rt.app().store, threading.Event()
    pairs = EVENT_COLUMNS.pairs(None, False)
    seen = {"after": 0}

    def rows(events: list[Event]) -> list[list[Any]]:
        if events:
            seen["after"] = max(seen["after"], max(e.id for e in events))
        return [[field_of(e, f) for _, f in pairs] for e in sorted(events, key=lambda e: e.id)]

    with rt.control() as tx:
        recent = tx.events.list(project, event_type, last) if last else []
        if not recent:
            recent_ids = [e.id for e in tx.events.list(None, None, 1)]
            seen["after"] = recent_ids[0] if recent_ids else 0
    follow(
        [header for header, _ in pairs],
        rows(recent),
        rt.reader(lambda tx: rows(tx.events.after(seen["after"], project, event_type))),
        lambda: store.wait_for("events", 1.0, stop),
    )
