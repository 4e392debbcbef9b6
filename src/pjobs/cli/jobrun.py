"""What every handler command shares: validate the payload, then run the job inline (the
default), or enqueue it (`--enqueue`), or enqueue and wait (`--enqueue --wait`); then
show the outcome and exit by it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from pjobs.cli.runtime import Runtime
from pjobs.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from pjobs.store.base import JobRecord


@dataclass(frozen=True)
class RunOptions:
    enqueue: bool = False
    wait: bool = False
    timeout: float | None = None
    max_attempts: int | None = None
    delay: str | None = None
    priority: int = 0
    idempotency_key: str | None = None
    as_json: bool = False


@dataclass(frozen=True)
class Ran:
    """A job that ran to its end here or was waited for."""

    job: JobRecord
    revealed: dict[str, str]  # secrets to show once (inline runs only)


def validate(rt: Runtime, type_name: str, payload: dict[str, Any]) -> None:
    """Refuse a bad payload (exit 65) before any database is opened."""
    from pjobs.queue import EnqueueOptions, prepare_jobs

    prepare_jobs(
        rt.registry(), rt.settings(), [(type_name, payload)], EnqueueOptions(), rt.clock().now()
    )


def run_job(rt: Runtime, type_name: str, payload: dict[str, Any], opts: RunOptions) -> Ran | None:
    """Run or enqueue; None when only enqueued (the id has been printed)."""
    from pjobs.cli.output import message, print_json, print_lines
    from pjobs.queue import EnqueueOptions, prepare_jobs
    from pjobs.timeutil import parse_duration

    if opts.wait and not opts.enqueue:
        raise UsageError("--wait goes with --enqueue (an inline run always waits)")
    if opts.delay and not opts.enqueue:
        raise UsageError("--delay goes with --enqueue")
    options = EnqueueOptions(
        priority=opts.priority,
        delay=parse_duration(opts.delay) if opts.delay else None,
        max_attempts=opts.max_attempts,
        idempotency_key=opts.idempotency_key,
    )
    now = rt.clock().now()
    # Validation before any database is opened: bad input changes nothing anywhere.
    (job,) = prepare_jobs(rt.registry(), rt.settings(), [(type_name, payload)], options, now)
    queue = rt.queue()
    if not opts.enqueue:
        record = queue.run_inline(type_name, payload, options)
        return Ran(record, queue.revealed.pop(record.id, {}))
    (result,) = queue.submit([job])
    if not opts.wait:
        if opts.as_json:
            print_json(result)
        else:
            print_lines([result.id])
        message(f"enqueued {type_name} job {result.id}", rt.quiet)
        return None
    return Ran(queue.wait(result.id, opts.timeout), {})


def finish(ran: Ran, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print the outcome (result and any secrets), then exit 1 if the job failed."""
    from pjobs.cli.output import print_json, print_lines

    job = ran.job
    if as_json:
        print_json(
            {
                "job": {
                    "id": job.id,
                    "type": job.type,
                    "state": job.state,
                    "attempts": job.attempts,
                    "error": job.last_error,
                },
                "result": job.result,
                "secrets": ran.revealed,
            }
        )
    else:
        if job.result is not None:
            render(job.result)
        if ran.revealed:
            print_lines(["", "Secrets (shown this once; store them now):"])
            print_lines([f"  {label}: {secret}" for label, secret in ran.revealed.items()])
    if job.state != "succeeded":
        error = (job.last_error or job.state).splitlines()[0]
        typer.echo(f"pjobs: job {job.id} {job.state}: {error}", err=True)
        raise typer.Exit(int(ExitCode.FAILURE))
