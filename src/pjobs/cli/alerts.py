"""`pjobs alerts …`: the monitoring alerts `serve --http` received, and what came of each."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import JsonOption, ProjectFilterOption, SinceOption
from pjobs.cli.runtime import runtime

if TYPE_CHECKING:
    from pjobs.control import ControlTx

app = typer.Typer(help="Monitoring alerts received by `serve --http`.", no_args_is_help=True)


ALERT_COLUMNS = Columns(
    ("id", "received_at", "source", "status", "name", ("project", "project_id"), "outcome"),
    keep=("outcome",),
    wide=("pattern", "job_id"),
)


@app.command("list")
@list_options(100, watch=True)
def list_alerts(
    ctx: typer.Context,
    view: ListView,
    source: Annotated[
        str | None, typer.Option(help="alertmanager, grafana, datadog or generic.")
    ] = None,
    project: ProjectFilterOption = None,
    since: SinceOption = None,
) -> None:
    """Alerts received, newest first, each with what came of it: what the receiver did
    and, where it asked for an evaluation, its outcome (suspended, protected, nothing —
    `pjobs alerts show ID` gives the figures and the reason).

    Example: pjobs alerts list --source alertmanager --since 24h
    """
    from pjobs.domain.projects import alert_outcome

    rt = runtime(ctx)
    start = rt.since(since)
    project_id = rt.project_filter(project)

    def page(tx: ControlTx) -> list[dict[str, Any]]:
        found = tx.alerts.list(source, start, view.limit, project_id, view.offset)
        return [{**asdict(a), "outcome": outcome_of(alert_outcome(tx, a))} for a in found]

    print_listing(view, "alerts", rt.reader(page), ALERT_COLUMNS)


def outcome_of(found: dict[str, Any]) -> str:
    """What came of an alert in a phrase: the evaluation's action, else its job's state,
    else what the receiver did."""
    if found.get("action"):
        return str(found["action"])
    job = found.get("job")
    if job is not None and job["state"] != "succeeded":
        return f"auto_suspend {job['state']}"
    return str(found["receiver"])


@app.command("show")
def show_alert(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="Alert id.", min=1)],
    as_json: JsonOption = False,
) -> None:
    """One alert: what it said (labels, the figures it carried), what the receiver did,
    and the outcome of the evaluation it asked for — the action, the figures judged and
    where each came from (the alert or pjobs' own usage), and the reason.

    Example: pjobs alerts show 42
    """
    from pjobs.cli.output import print_fields, print_json
    from pjobs.domain.projects import alert_outcome
    from pjobs.errors import found

    rt = runtime(ctx)
    with rt.control() as tx:
        alert = found(tx.alerts.get(alert_id), "alert", str(alert_id))
        result = alert_outcome(tx, alert)
    if as_json:
        print_json({**asdict(alert), "outcome": result})
        return
    print_fields(
        [(k, getattr(alert, k)) for k in ("id", "received_at", "source", "status", "name")]
        + [("project", alert.project_id), ("pattern", alert.pattern), ("figures", alert.metrics)]
        + [("receiver", result["receiver"]), ("outcome", outcome_of(result))]
        + [(k, result[k]) for k in ("reason", "metrics", "sources", "error") if result.get(k)]
    )
