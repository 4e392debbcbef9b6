"""`pjobs schedules …`: what `serve` fires on its own — list them, run one now."""

from __future__ import annotations

from typing import Annotated

import typer

from pjobs.cli.options import DryRunOption, JsonOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="Schedules: list them, run one now.", no_args_is_help=True)
SCHEDULE_COLUMNS = (
    "name",
    "cron",
    "job",
    "enabled",
    "next_run",
    "last_tick",
    "last_job_id",
    "last_job_state",
)


@app.command("list")
def list_schedules(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Each schedule: expression (UTC), job, on/off, next run, last tick and its job.

    Example: pjobs schedules list
    """
    from pjobs.cli.output import print_records
    from pjobs.queue import scheduler

    rt = runtime(ctx)
    settings = rt.settings()
    with rt.control() as tx:
        rows = scheduler.listing(settings, tx.schedules.last_ticks(), tx.now)
    print_records("schedules", rows, SCHEDULE_COLUMNS, as_json)


@app.command("run")
def run_schedule(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Enqueue a schedule's job now (a tick of its own); print the job id.

    Example: pjobs schedules run check-limits
    """
    from pjobs.cli.output import message, print_json, print_lines
    from pjobs.errors import NotFoundError
    from pjobs.queue import scheduler

    rt = runtime(ctx)
    found = {s.name: s for s in scheduler.effective(rt.settings())}.get(name)
    if found is None:
        raise NotFoundError(f"no schedule {name[:60]!r} (see `pjobs schedules list`)")
    if dry_run:
        message(f"dry run: would enqueue {found.job} for schedule {name}", rt.quiet)
        if as_json:
            print_json({"dry_run": True, "schedule": name, "job": found.job})
        return
    app = rt.app()
    job_id = scheduler.Scheduler(app, []).fire(found, app.clock.now())
    message(f"schedule {name}: enqueued {found.job} job {job_id}", rt.quiet)
    if as_json:
        print_json({"schedule": name, "job_id": job_id})
    else:
        print_lines([job_id])
