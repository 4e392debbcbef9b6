"""`pjobs audit …`: the append-only audit trail."""

from __future__ import annotations

import typer

from pjobs.cli.options import JsonOption, LimitOption, ProjectFilterOption, SinceOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)

AUDIT_COLUMNS = ("id", "at", "actor", "action", ("project", "project_id"), "target", "data")


@app.command("list")
def list_audit(
    ctx: typer.Context,
    project: ProjectFilterOption = None,
    since: SinceOption = None,
    limit: LimitOption = 1000,
    as_json: JsonOption = False,
) -> None:
    """Audit events, oldest first.

    Example: pjobs audit list --project proj-123 --since 7d
    """
    from pjobs.cli.output import print_records

    rt = runtime(ctx)
    start, project = rt.since(since), rt.project_filter(project)
    with rt.control() as tx:
        events = tx.audit.list(project, start, limit)
    print_records("events", events, AUDIT_COLUMNS, as_json)
