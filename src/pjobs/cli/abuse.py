"""`pjobs abuse …`: every evaluation of an abuse pattern against a project (the seed's
`recordAbuseDetection`), whether it suspended, reported a protected project, or found
nothing — with the figures judged and where each came from."""

from __future__ import annotations

import typer

from pjobs.cli.options import JsonOption, LimitOption, ProjectFilterOption, SinceOption
from pjobs.cli.runtime import runtime

app = typer.Typer(
    help="Abuse evaluations: what was judged, and what came of it.", no_args_is_help=True
)


@app.command("list")
def list_detections(
    ctx: typer.Context,
    project: ProjectFilterOption = None,
    since: SinceOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """Abuse evaluations, newest first: pattern, whether it held, what was done (suspended,
    protected, not_enforced, nothing, …), the reason with its figures, who asked.

    Example: pjobs abuse list --project proj-123 --since 7d
    """
    from pjobs.cli.output import print_records

    rt = runtime(ctx)
    project_id = rt.project_filter(project)
    start = rt.since(since)
    with rt.control() as tx:
        found = tx.abuse.list(project_id, start, limit)
    columns = ("id", "at", ("project", "project_id"), "pattern", "held", "action", "reason")
    print_records("detections", found, (*columns, "actor", "job_id"), as_json)
