"""`pjobs jobs …`: see and steer the queue: enqueue, list, show, stats, cancel, retry (one job,
or every dead letter) and purge."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli import completion
from pjobs.cli import options as opt
from pjobs.cli.listing import (
    Columns,
    LastOption,
    ListView,
    WatchOption,
    field_of,
    follow,
    list_options,
    print_listing,
    watch,
)
from pjobs.cli.options import (
    DryRunOption,
    JobTypeOption,
    JsonOption,
    SinceOption,
    YesOption,
    duration_option,
)
from pjobs.cli.prompts import confirm
from pjobs.cli.runtime import runtime
from pjobs.errors import InvalidInputError, UsageError
from pjobs.timeutil import seconds

MAX_BATCH_BYTES = 256 * 2**20  # copies times payload bytes in one `jobs enqueue --count`

if TYPE_CHECKING:
    from pjobs.store.records import JobRecord

app = typer.Typer(
    help="See and steer jobs: enqueue, list, show, retry, cancel, purge, stats.",
    no_args_is_help=True,
)


class StateChoice(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


JobIdArgument = Annotated[int, typer.Argument(metavar="ID", help="Job id.", min=1, max=2**63 - 1)]

JOB_COLUMNS = Columns(
    ("id", "type", "state", "attempts", "run_at", "last_error"),
    keep=("state", "last_error"),
    wide=("queue", "priority", "created_at", "finished_at", "requested_by"),
)


def job_row(job: JobRecord) -> dict[str, Any]:
    """A job as a table shows it: attempts of the most, the first line of its error."""
    error = (job.last_error or "").splitlines()[0][:80] if job.last_error else None
    shown = {field.name: getattr(job, field.name) for field in dataclasses.fields(job)}
    return {**shown, "attempts": f"{job.attempts}/{job.max_attempts}", "last_error": error}


def show_job(job: JobRecord, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    from pjobs.cli.output import fields_of, print_fields, print_json
    from pjobs.shown import to_jsonable

    if as_json:
        print_json({**to_jsonable(job), **(extra or {})})
        return
    print_fields(fields_of(job))


@app.command("enqueue")
def enqueue(
    ctx: typer.Context,
    job_type: Annotated[
        str,
        typer.Argument(
            metavar="TYPE", help="Job type, e.g. noop.", autocompletion=completion.job_types
        ),
    ],
    payload: Annotated[
        str, typer.Option("--payload", "-p", help="JSON object, @FILE, or - for stdin.")
    ] = "{}",
    queue: Annotated[
        str | None,
        typer.Option(help="Queue name, 1 to 100 printable characters (default: the job type's)."),
    ] = None,
    priority: opt.PriorityOption = 0,
    delay: opt.DelayOption = None,
    max_attempts: opt.MaxAttemptsOption = None,
    idempotency_key: opt.IdempotencyKeyOption = None,
    time_limit: opt.TimeLimitOption = None,
    count: Annotated[
        int,
        typer.Option(min=1, max=1_000_000, help="Enqueue this many copies in one transaction."),
    ] = 1,
    wait: opt.WaitOption = False,
    timeout: opt.TimeoutOption = None,
    dry_run: opt.DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Validate and enqueue a job; print its id (with --count: how many, and their ids).

    Example: pjobs jobs enqueue noop --payload '{}' --count 100
    """
    from pjobs.cli.inputs import read_json_argument
    from pjobs.cli.output import print_json, print_lines
    from pjobs.queue.enqueue import EnqueueOptions, prepare_jobs
    from pjobs.timeutil import parse_duration

    if wait and count > 1:
        raise UsageError("--wait takes one job, not --count")
    if count > 1 and idempotency_key:
        raise UsageError("--idempotency-key names one job; it cannot go with --count")
    rt = runtime(ctx)
    settings = rt.settings()
    data = read_json_argument(payload, settings.max_payload_bytes)
    options = EnqueueOptions(
        queue=queue,
        priority=priority,
        delay=parse_duration(delay) if delay else None,
        max_attempts=max_attempts,
        idempotency_key=idempotency_key,
        requested_by=rt.actor(),
        time_limit=parse_duration(time_limit).total_seconds() if time_limit else None,
    )
    now = rt.app().clock.now()
    (job,) = prepare_jobs(rt.app().registry, settings, [(job_type, data)], options, now)
    if count * len(job.payload) > MAX_BATCH_BYTES:
        raise InvalidInputError(
            f"{count:,} copies of a {len(job.payload):,}-byte payload is over "
            f"{MAX_BATCH_BYTES // 2**20} MiB: enqueue fewer at a time"
        )
    if dry_run:
        from pjobs.cli.output import message

        plan = {"dry_run": True, "type": job.type, "queue": job.queue, "count": count}
        message(f"dry run: would enqueue {count:,} {job.type} job(s) on {job.queue}", rt.quiet)
        if as_json:
            print_json({**plan, "run_at": job.run_at, "payload": json.loads(job.payload)})
        return
    if count > 1:
        ids = rt.app().queue.submit_copies(job, count)
        if as_json:
            print_json_lines(ids)
        else:
            print_lines([f"{count} {job.type} jobs enqueued, ids {ids[0]} to {ids[-1]}"])
        return
    results = rt.app().queue.submit([job])
    if wait:
        finished = rt.app().queue.wait(results[0].id, seconds(timeout))
        show_job(finished, as_json)
        if finished.state != "succeeded":
            from pjobs.cli.jobrun import job_failed

            raise job_failed(finished)
        return
    if as_json:
        print_json(results[0])
    else:
        print_lines([result.id for result in results])


def print_json_lines(ids: Iterable[int]) -> None:
    """`{"jobs": [{"id": …, "created": true}, …]}`, written as it goes."""
    out = sys.stdout
    out.write('{\n  "jobs": [')
    for n, job_id in enumerate(ids):
        out.write(f'{"," if n else ""}\n    {{"id": {job_id}, "created": true}}')
    out.write("\n  ]\n}\n")


@app.command("list")
@list_options(50, watch=True)
def list_jobs(
    ctx: typer.Context,
    view: ListView,
    state: Annotated[StateChoice | None, typer.Option(help="Only jobs in this state.")] = None,
    job_type: opt.JobTypeOption = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    project: opt.ProjectFilterOption = None,
) -> None:
    """List jobs, newest first (with --project, the jobs whose payload names it).

    Example: pjobs jobs list --state failed --type deliver_webhook
    """
    rt = runtime(ctx)
    wanted = state.value if state else None
    project_id = rt.project_filter(project)

    def page() -> list[JobRecord]:
        if project_id is None:
            return rt.app().store.list_jobs(wanted, job_type, queue, view.limit, view.offset)
        with rt.control() as tx:
            found = tx.jobs.of_project(project_id, 10 * (view.offset + view.limit))
        return [
            job
            for job in found
            if wanted in (None, job.state)
            and job_type in (None, job.type)
            and queue in (None, job.queue)
        ][view.offset : view.offset + view.limit]

    print_listing(view, "jobs", page, JOB_COLUMNS, job_row)


@app.command("show")
def show(ctx: typer.Context, job_id: JobIdArgument, as_json: JsonOption = False) -> None:
    """Show one job with every attempt, and the traceback of the latest that failed.

    Example: pjobs jobs show 42 --json
    """
    from pjobs.cli.output import print_json, print_lines, print_table
    from pjobs.shown import to_jsonable

    queue = runtime(ctx).app().queue
    job = queue.get(job_id)
    attempts = queue.store.job_attempts(job_id)
    if as_json:
        print_json({**to_jsonable(job), "attempts_log": attempts})
        return
    show_job(job, False)
    if attempts:
        print_table(
            ("attempt", "outcome", "worker", "started_at", "finished_at", "error"),
            [
                (a.attempt, a.outcome, a.worker_id, a.started_at, a.finished_at, a.error)
                for a in attempts
            ],
        )
    traced = [a for a in attempts if a.traceback]
    if traced:  # the latest one; --json has every attempt's
        print_lines(["", f"traceback of attempt {traced[-1].attempt}:"])
        print_lines((traced[-1].traceback or "").rstrip().splitlines())


TAIL_WINDOW = 200  # the newest jobs a tail follows the state of


@app.command("tail")
def tail(ctx: typer.Context, last: LastOption = 10) -> None:
    """Follow jobs: the last ones, then each new job and each change of state, a line each,
    until Ctrl-C (PostgreSQL wakes it at once for new jobs; changes are read every second).

    Example: pjobs jobs tail --last 0
    """
    import threading

    store, stop = runtime(ctx).app().store, threading.Event()
    pairs = JOB_COLUMNS.pairs(None, False)

    def rows(jobs: list[JobRecord]) -> list[list[Any]]:
        return [[field_of(job_row(job), f) for _, f in pairs] for job in reversed(jobs)]

    known = store.list_jobs(limit=TAIL_WINDOW)
    follow(
        [header for header, _ in pairs],
        rows(known[:last]) if last else [],
        lambda: rows(store.list_jobs(limit=TAIL_WINDOW)),
        lambda: store.wait_for("jobs", 1.0, stop),
        skip=rows(known[last:]),
    )


@app.command("stats")
def stats(ctx: typer.Context, every: WatchOption = None, as_json: JsonOption = False) -> None:
    """Counts by state and type, and the age of the oldest due job.

    Example: pjobs jobs stats --watch
    """
    from pjobs.cli.output import print_json, print_table
    from pjobs.store.records import STATES

    queue = runtime(ctx).app().queue
    if every is not None:
        watch(
            ListView(watch=every, as_json=as_json),
            ("type", *STATES),
            lambda: stats_rows(queue.stats()),
        )
        return
    data = queue.stats()
    if as_json:
        print_json(data)
        return
    print_table(("type", *STATES), stats_rows(data))
    age = data["oldest_due_age_seconds"]
    print_table(("oldest_due_age_seconds",), [[f"{age:.1f}" if age is not None else "-"]])


def stats_rows(data: dict[str, Any]) -> list[list[Any]]:
    """A row of counts by state per job type, and one of every type."""
    from pjobs.store.records import STATES

    rows = [
        [type_name, *(counts.get(state, 0) for state in STATES)]
        for type_name, counts in sorted(data["types"].items())
    ]
    rows.append(["(all)", *(data["states"].get(state, 0) for state in STATES)])
    return rows


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    job_id: JobIdArgument,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Cancel a queued job; one line says so.

    Example: pjobs jobs cancel 42
    """
    from pjobs.cli.output import print_lines

    rt = runtime(ctx)
    job = rt.app().queue.cancel(job_id, dry_run=dry_run, asked_by=rt.actor())
    if as_json:
        show_job(job, as_json, {"dry_run": dry_run})
        return
    done = "would be cancelled" if dry_run else "cancelled"
    print_lines([f"job {job_id} ({job.type}): {done}"])


@app.command("retry")
def retry(
    ctx: typer.Context,
    job_id: Annotated[
        int | None,
        typer.Argument(metavar="ID", help="One job.", min=1, max=2**63 - 1, show_default=False),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Every job in this state: failed or cancelled (dead letters)."
        ),
    ] = None,
    type_name: JobTypeOption = None,
    since: SinceOption = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Queue failed or cancelled jobs again, with fresh attempts: one by id, or in bulk
    (the count is said, and confirmed on a terminal, before anything is queued).

    Example: pjobs jobs retry --state failed --type deliver_webhook --dry-run
    """
    from pjobs.cli.output import message, print_json, print_lines

    rt = runtime(ctx)
    if (job_id is None) == (state is None):
        raise UsageError("give a job id, or --state failed|cancelled (one of them)")
    if job_id is not None:
        if type_name or since:
            raise UsageError("--type and --since go with --state")
        job = rt.app().queue.retry(job_id, dry_run=dry_run, asked_by=rt.actor())
        message(f"job {job_id}: {'would be ' if dry_run else ''}queued again", rt.quiet)
        show_job(job, as_json, {"dry_run": dry_run})
        return
    if state not in ("failed", "cancelled"):
        raise InvalidInputError(f"--state {str(state)[:40]!r}: failed or cancelled")
    if type_name is not None:
        rt.app().registry.get(type_name)  # an unknown type is refused, not matched by nothing
    start = rt.since(since)
    queue = rt.app().queue
    if not dry_run:
        found = len(queue.retry_all(state, type_name, start, dry_run=True))
        if found:
            confirm(rt, f"Queue {found} {state} job(s) again?", yes)
    ids = queue.retry_all(state, type_name, start, dry_run, asked_by=rt.actor())
    verb = "would queue again" if dry_run else "queued again"
    message(f"{'dry run: ' if dry_run else ''}{verb} {len(ids)} {state} job(s)", rt.quiet)
    if as_json:
        print_json({"dry_run": dry_run, "jobs": ids})
    else:
        print_lines(ids)


@app.command("purge")
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        duration_option("--older-than", "Delete finished jobs that finished longer ago than this."),
    ] = "7d",
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Delete finished jobs (succeeded, failed, cancelled) and their attempts (the count is
    said, and confirmed on a terminal, before anything is deleted).

    Example: pjobs jobs purge --older-than 30d --dry-run
    """
    from pjobs.cli.output import print_json, print_lines
    from pjobs.timeutil import parse_duration

    age = parse_duration(older_than)
    rt = runtime(ctx)
    queue = rt.app().queue
    if not dry_run:
        found = queue.purge(age, dry_run=True)
        if found:
            confirm(rt, f"Delete {found} finished job(s) older than {older_than}?", yes)
    count = queue.purge(age, dry_run=dry_run)
    if as_json:
        print_json(
            {
                "purged": 0 if dry_run else count,
                "would_purge": count if dry_run else 0,
                "dry_run": dry_run,
            }
        )
    else:
        print_lines([f"{'would purge' if dry_run else 'purged'} {count} job(s)"])
