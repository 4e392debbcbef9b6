"""What every handler command shares: its options (declared once, by `handler_command`),
payload validation before any database is opened, then the run: inline (the default),
enqueued (`--enqueue`), or enqueued and waited for (`--enqueue --wait`); then the outcome
printed and the exit code it decides."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from pjobs.cli.options import (
    DelayOption,
    DryRunOption,
    EnqueueOption,
    IdempotencyKeyOption,
    JsonOption,
    MaxAttemptsOption,
    PriorityOption,
    TimeLimitOption,
    TimeoutOption,
    WaitOption,
    gathered,
)
from pjobs.cli.runtime import Runtime
from pjobs.errors import CommandFailed, ExitCode, JobInterrupted, UsageError
from pjobs.timeutil import seconds

if TYPE_CHECKING:
    from pjobs.queue.enqueue import EnqueueOptions
    from pjobs.store.records import JobRecord, NewJob

F = TypeVar("F", bound=Callable[..., None])


@dataclass(frozen=True)
class RunOptions:
    """The options every handler command takes, gathered from its command line."""

    enqueue: bool = False
    wait: bool = False
    timeout: str | None = None  # a duration
    dry_run: bool = False
    max_attempts: int | None = None
    delay: str | None = None
    priority: int = 0
    idempotency_key: str | None = None
    time_limit: str | None = None
    as_json: bool = False


_OPTION_TYPES: dict[str, Any] = {
    "enqueue": EnqueueOption,
    "wait": WaitOption,
    "timeout": TimeoutOption,
    "dry_run": DryRunOption,
    "max_attempts": MaxAttemptsOption,
    "delay": DelayOption,
    "priority": PriorityOption,
    "idempotency_key": IdempotencyKeyOption,
    "time_limit": TimeLimitOption,
    "as_json": JsonOption,
}


def handler_command(*, retries: bool = True) -> Callable[[F], F]:
    """Give a command the handler options; it receives them as one `run: RunOptions`.

    `retries=False` leaves out --max-attempts (one-shot job types)."""
    names = [f.name for f in fields(RunOptions) if retries or f.name != "max_attempts"]
    return gathered(RunOptions(), "run", {name: _OPTION_TYPES[name] for name in names})


@dataclass(frozen=True)
class FinishedJob:
    """A job that ran to its end here, or was waited for."""

    job: JobRecord
    revealed: dict[str, str]  # secrets to show once (inline runs only)


def prepare(
    rt: Runtime, type_name: str, payload: dict[str, Any], opts: RunOptions | None = None
) -> NewJob:
    """The job a handler command runs or enqueues, validated (payload and options) once,
    before any database is opened: a bad one is refused (65) and changes nothing."""
    from pjobs.queue.enqueue import prepare_jobs

    options = enqueue_options(rt, opts or RunOptions())
    (job,) = prepare_jobs(
        rt.app().registry, rt.settings(), [(type_name, payload)], options, rt.app().clock.now()
    )
    return job


def enqueue_options(rt: Runtime, opts: RunOptions, key: bool = True) -> EnqueueOptions:
    """The enqueue options a handler command's options ask for."""
    from pjobs.queue.enqueue import EnqueueOptions
    from pjobs.timeutil import parse_duration

    return EnqueueOptions(
        priority=opts.priority,
        delay=parse_duration(opts.delay) if opts.delay else None,
        max_attempts=opts.max_attempts,
        idempotency_key=opts.idempotency_key if key else None,
        requested_by=rt.actor(),
        time_limit=parse_duration(opts.time_limit).total_seconds() if opts.time_limit else None,
    )


def run_job(rt: Runtime, job: NewJob, opts: RunOptions) -> FinishedJob | None:
    """Run or enqueue a job `prepare` made; None when only enqueued (the id has been
    printed)."""
    from pjobs.cli.output import message, print_json, print_lines

    if opts.wait and not opts.enqueue:
        raise UsageError("--wait goes with --enqueue (an inline run always waits)")
    if opts.delay and not opts.enqueue:
        raise UsageError("--delay goes with --enqueue")
    type_name = job.type
    queue = rt.app().queue
    if not opts.enqueue:
        try:
            record = queue.run_prepared(job)
        except JobInterrupted as stopped:
            raise interrupted(rt, stopped, json.loads(job.payload)) from None
        return FinishedJob(record, queue.revealed.pop(record.id, {}))
    (result,) = queue.submit([job])
    if not opts.wait:
        if opts.as_json:
            print_json(result)
        else:
            print_lines([result.id])
        message(f"enqueued {type_name} job {result.id}", rt.quiet)
        return None
    return FinishedJob(queue.wait(result.id, seconds(opts.timeout)), {})


def interrupted(rt: Runtime, stopped: JobInterrupted, payload: Any) -> JobInterrupted:
    """Ctrl-C during an inline run, said whole: the job is cancelled (a worker would run it
    where nobody sees what it makes, such as new keys), the state its project is in, and
    what to run: the same command again, which resumes from the steps already done."""
    project_id = payload.get("project_id") if isinstance(payload, dict) else None
    where = ""
    if isinstance(project_id, str):
        with rt.control() as tx:
            project = tx.projects.get(project_id)
        where = f"; project {project_id} is {project.status}" if project else ""
    stopped.message += f"{where}. Run the same command again to finish it"
    return stopped


def run_and_report(
    rt: Runtime, job: NewJob, opts: RunOptions, render: Callable[[Any], None]
) -> None:
    """`run_job`, then `report` what ran (nothing more to say when only enqueued)."""
    finished = run_job(rt, job, opts)
    if finished is not None:
        report(finished, opts.as_json, render)


def report(finished: FinishedJob, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print the outcome (result and any secrets), then exit 1 if the job failed."""
    from pjobs.cli.output import print_json, print_lines

    job = finished.job
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
                "secrets": finished.revealed,
            }
        )
    else:
        if job.result is not None and job.state == "succeeded":
            render(job.result)
        if finished.revealed:
            print_lines(["", "Secrets (shown this once; store them now):"])
            print_lines([f"  {label}: {secret}" for label, secret in finished.revealed.items()])
    if job.state != "succeeded":
        raise job_failed(job)


def job_failed(job: JobRecord) -> CommandFailed:
    """What a command that ran `job` fails with: the job's first error line, and exit 1
    (a refused job, `jobtypes.Refused`, exits with its own code)."""
    refused = job.result.get("exit_code") if isinstance(job.result, dict) else None
    code = int(refused) if isinstance(refused, int) else int(ExitCode.FAILURE)
    first = (job.last_error or job.state).splitlines()[0]
    return CommandFailed(f"job {job.id} {job.state}: {first}", code)
