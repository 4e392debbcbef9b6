"""`pjobs alerts …`: the monitoring alerts `serve --http` received, and what came of each."""

from __future__ import annotations

from typing import Annotated

import typer

from pjobs.cli.options import JsonOption, LimitOption, SinceOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="Monitoring alerts received by `serve --http`.", no_args_is_help=True)


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option(help="alertmanager, grafana, datadog or generic.")
    ] = None,
    since: SinceOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """Alerts received, newest first, with what was done about each.

    Example: pjobs alerts list --source alertmanager --since 24h
    """
    from pjobs.cli.output import print_records

    rt = runtime(ctx)
    start = rt.since(since)
    with rt.control() as tx:
        found = tx.alerts.list(source, start, limit)
    columns = ("id", "received_at", "source", "status", "name", ("project", "project_id"))
    print_records("alerts", found, (*columns, "pattern", "action", "job_id"), as_json)
