"""`pjobs audit …`: the append-only audit trail."""

from __future__ import annotations

import typer

from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import ProjectFilterOption, SinceOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)

AUDIT_COLUMNS = Columns(
    ("id", "at", "actor", "action", ("project", "project_id"), "target", "data"),
    keep=("action", "data"),
    wide=("job_id",),
)


@app.command("list")
@list_options(1000)
def list_audit(
    ctx: typer.Context,
    view: ListView,
    project: ProjectFilterOption = None,
    since: SinceOption = None,
) -> None:
    """Audit events, newest first (--offset pages back to the oldest).

    Example: pjobs audit list --project proj-123 --since 7d
    """
    rt = runtime(ctx)
    start, project = rt.since(since), rt.project_filter(project)
    page = rt.reader(lambda tx: tx.audit.list(project, start, view.limit, view.offset))
    print_listing(view, "events", page, AUDIT_COLUMNS)
