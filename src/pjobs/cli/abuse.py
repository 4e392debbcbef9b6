"""`pjobs abuse …`: every evaluation of an abuse pattern against a project (the seed's
`recordAbuseDetection`), whether it suspended, reported a protected project, or found
nothing — with the figures judged and where each came from."""

from __future__ import annotations

import typer

from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import ProjectFilterOption, SinceOption
from pjobs.cli.runtime import runtime

app = typer.Typer(
    help="Abuse evaluations: what was judged, and what came of it.", no_args_is_help=True
)


DETECTION_COLUMNS = Columns(
    ("id", "at", ("project", "project_id"), "pattern", "held", "action", "reason"),
    keep=("action",),
    wide=("actor", "job_id"),
)


@app.command("list")
@list_options(100)
def list_detections(
    ctx: typer.Context,
    view: ListView,
    project: ProjectFilterOption = None,
    since: SinceOption = None,
) -> None:
    """Abuse evaluations, newest first: pattern, whether it held, what was done (suspended,
    protected, not_enforced, nothing, …), the reason with its figures, who asked.

    Example: pjobs abuse list --project proj-123 --since 7d
    """
    rt = runtime(ctx)
    project_id = rt.project_filter(project)
    start = rt.since(since)
    page = rt.reader(lambda tx: tx.abuse.list(project_id, start, view.limit, view.offset))
    print_listing(view, "detections", page, DETECTION_COLUMNS)
