"""`pjobs usage …`: the usage data quotas and abuse checks judge — record, import, show."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pjobs.cli.options import DryRunOption, JsonOption, ProjectArgument
from pjobs.cli.runtime import Runtime, runtime

app = typer.Typer(help="Usage data: record, import (JSON lines), show.", no_args_is_help=True)

PeriodOption = Annotated[
    str | None, typer.Option("--period", help="Billing period YYYY-MM (default: this month).")
]


def project_for(rt: Runtime, project_id: str) -> None:
    """Refuse a malformed id (65) or an unknown project (4) before anything else."""
    from pjobs import ids

    ids.PROJECT_ID.check(project_id)
    rt.project(project_id)


@app.command("record")
def record(
    ctx: typer.Context,
    project_id: ProjectArgument,
    metric: Annotated[
        list[str],
        typer.Option("--metric", "-m", help="NAME=VALUE (repeatable), e.g. requests=120."),
    ],
    at: Annotated[str | None, typer.Option("--at", help="When (ISO-8601; default: now).")] = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record usage of a project: counters add up, gauges take the value.

    `requests` and `errors` also feed the per-minute counts the abuse scan judges.

    Example: pjobs usage record proj-123 -m requests=1200 -m errors=30
    """
    from datetime import timedelta

    from pjobs.cli.output import message, print_json, print_records
    from pjobs.control import ControlPlane
    from pjobs.domain.usage import metric_is_gauge, parse_assignment, usage_time
    from pjobs.store.staging import UsageRecord, micros_of

    rt = runtime(ctx)
    settings = rt.settings()
    values = [parse_assignment(text, settings) for text in metric]
    now = rt.app().clock.now()
    when = usage_time(at, now)
    project_for(rt, project_id)
    records = [
        UsageRecord(n, project_id, name, value, micros_of(when), metric_is_gauge(settings, name))
        for n, (name, value) in enumerate(values, start=1)
    ]
    control = ControlPlane(rt.app().store)
    with control.rehearsal(now) if dry_run else control.tx(now) as tx:
        tx.usage.add(records, now - timedelta(hours=settings.usage.minute_retention_hours))
    rows = [{"metric": n, "value": v, "at": when} for n, v in values]
    message(f"{'would record' if dry_run else 'recorded'} {len(rows)} value(s)", rt.quiet)
    if as_json:
        print_json({"project_id": project_id, "dry_run": dry_run, "recorded": rows})
    else:
        print_records("recorded", rows, ("metric", "value", "at"), False)


@app.command("import")
def import_lines(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="JSON lines, or - for stdin.")],
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes", min=1, max=64, help="Processes that check lines (default: a core, ≤ 4)."
        ),
    ] = None,
    again: Annotated[
        bool, typer.Option("--again", help="Import content that was imported before.")
    ] = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Import usage from JSON lines: {"project", "metric", "value", "time"} a line.

    All or nothing: a bad line (reported with its number) imports nothing. Streamed in
    blocks, checked by one process a core (at most 4; --processes); `time` is ISO-8601
    (UTC if no zone; default: now); a value is 0 to 1e15. The same content imported again
    (by its SHA-256) adds nothing, unless --again.

    Example: pjobs usage import usage-2026-11-29.jsonl
    """
    from pjobs.cli.inputs import open_input
    from pjobs.cli.output import message, print_json, print_lines
    from pjobs.control import ControlPlane
    from pjobs.domain.usage_import import import_processes, import_usage
    from pjobs.errors import InvalidInputError
    from pjobs.shown import timestamp

    rt = runtime(ctx)
    settings = rt.settings()
    control = ControlPlane(rt.app().store)
    now = rt.app().clock.now()
    with open_input(source) as stream, control.rehearsal(now) if dry_run else control.tx(now) as tx:
        report = import_usage(
            tx,
            stream,
            settings,
            now,
            processes or import_processes(),
            requested_by=rt.actor(),
            again=again,
        )
        if report.error_count:
            shown = "; ".join(f"line {n}: {error}" for n, error in report.errors)
            more = report.error_count - len(report.errors)
            raise InvalidInputError(
                f"{report.error_count} bad line(s), nothing imported: {shown}"
                + (f" (and {more} more)" if more else "")
            )
    data = {**report.summary(), "dry_run": dry_run}
    if report.already is not None:
        when = timestamp(report.already.imported_at)
        message(
            f"this content was imported at {when}: nothing added (--again imports it again)",
            rt.quiet,
        )
    else:
        done = "would import" if dry_run else "imported"
        message(f"{done} {report.records} record(s)", rt.quiet)
    if as_json:
        print_json(data)
    else:
        print_lines([f"{key}: {value}" for key, value in data.items()])


@app.command("show")
def show(
    ctx: typer.Context,
    project_id: ProjectArgument,
    period: PeriodOption = None,
    as_json: JsonOption = False,
) -> None:
    """A project's usage in a billing period, against its quotas.

    Example: pjobs usage show proj-123 --period 2026-11
    """
    from pjobs.cli.output import print_json, print_records

    rt = runtime(ctx)
    rows = usage_against_quotas(rt, project_id, period)
    if as_json:
        print_json({"project_id": project_id, "period": rows[1], "metrics": rows[0]})
        return
    columns = ("metric", "kind", "value", "limit", "hard", "percent", "source")
    print_records("metrics", rows[0], columns, False)


def usage_against_quotas(
    rt: Runtime, project_id: str, period: str | None
) -> tuple[list[dict[str, Any]], str]:
    """Each metric with a value or a quota (`domain.quotas.standing`), and the period."""
    from pjobs.domain.quotas import standing
    from pjobs.domain.usage import parse_period
    from pjobs.store.staging import period_of

    chosen = parse_period(period) if period else period_of(rt.app().clock.now())
    project = rt.project(project_id)
    with rt.control() as tx:
        rows = standing(tx, rt.settings(), project, chosen)
    return rows, chosen
