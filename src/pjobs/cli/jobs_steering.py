"""`pjobs jobs cancel`, `jobs retry` (one job, or every dead letter) and `jobs purge`:
what happens next to queued and finished jobs (commands of the `jobs` group)."""

from __future__ import annotations

from typing import Annotated

import typer

from pjobs.cli import jobs
from pjobs.cli.jobs import JobIdArgument, show_job
from pjobs.cli.options import DryRunOption, JobTypeOption, JsonOption, SinceOption
from pjobs.cli.runtime import runtime
from pjobs.errors import InvalidInputError, UsageError


def cancel(
    ctx: typer.Context,
    job_id: JobIdArgument,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Cancel a queued job.

    Example: pjobs jobs cancel 42
    """
    from pjobs.cli.output import message

    rt = runtime(ctx)
    job = rt.queue().cancel(job_id, dry_run=dry_run)
    message(f"job {job_id}: {'would be ' if dry_run else ''}cancelled", rt.quiet)
    show_job(job, as_json, {"dry_run": dry_run})


def retry(
    ctx: typer.Context,
    job_id: Annotated[
        int | None,
        typer.Argument(metavar="[ID]", help="One job.", min=1, max=2**63 - 1, show_default=False),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Every job in this state: failed or cancelled (dead letters)."
        ),
    ] = None,
    type_name: JobTypeOption = None,
    since: SinceOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Queue failed or cancelled jobs again, with fresh attempts: one by id, or in bulk.

    Example: pjobs jobs retry --state failed --type deliver_webhook --since 2h --dry-run
    """
    from pjobs.cli.output import message, print_json, print_lines

    rt = runtime(ctx)
    if (job_id is None) == (state is None):
        raise UsageError("give a job id, or --state failed|cancelled (one of them)")
    if job_id is not None:
        if type_name or since:
            raise UsageError("--type and --since go with --state")
        job = rt.queue().retry(job_id, dry_run=dry_run)
        message(f"job {job_id}: {'would be ' if dry_run else ''}queued again", rt.quiet)
        show_job(job, as_json, {"dry_run": dry_run})
        return
    if state not in ("failed", "cancelled"):
        raise InvalidInputError(f"--state {str(state)[:40]!r}: failed or cancelled")
    if type_name is not None:
        rt.registry().get(type_name)  # an unknown type is refused, not matched by nothing
    start = rt.since(since)
    queue = rt.queue()
    ids = queue.store.retry_jobs(state, type_name, start, rt.clock().now(), dry_run)
    verb = "would queue again" if dry_run else "queued again"
    message(f"{'dry run: ' if dry_run else ''}{verb} {len(ids)} {state} job(s)", rt.quiet)
    if as_json:
        print_json({"dry_run": dry_run, "jobs": ids})
    else:
        print_lines(ids)


def purge(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option(help="Delete finished jobs that finished longer ago than this.")
    ] = "7d",
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Delete finished jobs (succeeded, failed, cancelled) and their attempts.

    Example: pjobs jobs purge --older-than 30d --dry-run
    """
    from pjobs.cli.output import print_json, print_lines
    from pjobs.timeutil import parse_duration

    age = parse_duration(older_than)
    count = runtime(ctx).queue().purge(age, dry_run=dry_run)
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


# The `jobs` group: what cli/jobs.py defines, and these verbs.
jobs_app = jobs.app
for _verb in (cancel, retry, purge):
    jobs_app.command(_verb.__name__)(_verb)
