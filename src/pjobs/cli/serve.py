"""`pjobs serve`: its options and signals; what it runs (the worker, its schedules, the
listener of --http, the worker processes of --processes) is assembled by `pjobs.service`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from pjobs.cli.runtime import Runtime, runtime
from pjobs.cli.signals import Stopper


def serve(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=1024, help="Jobs run at once, per process [worker.concurrency]."),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes, this one included [worker.processes]."),
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", help="Only these queues (repeatable).")
    ] = None,
    burst: Annotated[
        bool, typer.Option("--burst", help="Run what is due, then exit (no schedules, no HTTP).")
    ] = False,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="Serve alerts, /metrics, /healthz [receiver.listen].",
        ),
    ] = None,
    schedules: Annotated[
        bool | None,
        typer.Option(
            "--schedules/--no-schedules",
            help="Fire the schedules [scheduling.enabled].",
            show_default=False,
        ),
    ] = None,
    worker_of: Annotated[
        int | None,
        typer.Option("--worker-of", metavar="PID", hidden=True, help="Started by this serve."),
    ] = None,
) -> None:
    """Run jobs from the queue until SIGTERM/SIGINT (or, with --burst, until none is due).

    Fires the schedules (`pjobs schedules list`): each tick enqueues its job once across
    every serve process. With --http (loopback unless a host is given) it also receives
    monitoring alerts — POST /hooks/alertmanager, /hooks/grafana, /hooks/datadog and
    /hooks/generic, each with `Authorization: Bearer TOKEN` (receiver.tokens.SOURCE, else
    receiver.token: PJOBS_RECEIVER__TOKEN or receiver.token_file, 32 characters at
    least) — whose figures (requests_per_minute, baseline_requests_per_minute, error_rate,
    requests, errors) are the evidence their auto_suspend evaluation judges, per
    receiver.policies (evaluate, act, record); and it serves /metrics, /healthz, /readyz
    and /openapi.json (each hook's shape, with examples).

    On SIGTERM or SIGINT it stops the listener, the schedules and then the worker: running
    jobs get worker.shutdown_timeout seconds, what did not finish is put back, and it
    exits 0. A second signal cuts the wait.

    With --processes N it starts N - 1 more processes that run jobs too (one process
    runs Python on one core at a time); they stop with it, and should one of them fail,
    serve stops and exits with its code.

    Example: pjobs serve --http 127.0.0.1:9400 --processes 2
    """
    stopper = Stopper()
    import os

    from pjobs.cli.heap import started
    from pjobs.cli.output import message
    from pjobs.queue.leases import waited_out
    from pjobs.service import ServeOptions, Service

    rt = runtime(ctx)
    if concurrency is not None:  # the pool is sized from the setting
        settings = rt.settings()
        worker_settings = settings.worker.model_copy(update={"concurrency": concurrency})
        rt._settings = settings.with_groups(worker=worker_settings)
    app = rt.app()
    settings = app.settings
    # a database that is unavailable (a connection cut) while serve starts is waited out,
    # as the worker waits it out once running
    outage = settings.worker.max_outage_seconds
    if waited_out(lambda: app.store, "connecting", outage, stopper.requested) is None:
        return  # stopped while it waited: nothing claimed, nothing to put back
    options = ServeOptions(
        queues=queue,
        burst=burst,
        listen=http or settings.receiver.listen,
        schedules=settings.scheduling.enabled if schedules is None else schedules,
        processes=processes or settings.worker.processes,
        worker_of=worker_of,
        sibling_command=worker_command(rt, settings.worker.concurrency, queue, burst),
        sibling_env={**os.environ} | ({"PJOBS_DATABASE_URL": rt.db} if rt.db else {}),
    )
    service = Service(app, options)
    stopper.on_stop(service.stop)
    if stopper.requested.is_set():
        return  # stopped before it started: nothing to put back
    service.start(stopper.requested)
    message(service.describe(), rt.quiet)
    started()  # what it runs on is built
    failed = service.run()
    worker = service.worker
    message(
        f"pjobs serve: stopped after {worker.processed} attempt(s), {worker.failed} failed",
        rt.quiet,
    )
    if failed:
        raise typer.Exit(failed)


def worker_command(
    rt: Runtime, concurrency: int, queues: Sequence[str] | None, burst: bool
) -> list[str]:
    """The command line of a worker-only serve process with these options (the database
    URL goes by the environment: a command line is visible to every user of the machine)."""
    import os
    import sys

    args = [sys.executable, "-m", "pjobs"]
    if rt.config is not None:
        args += ["--config", str(rt.config)]
    if rt.actor_flag:
        args += ["--actor", rt.actor_flag]
    args += ["--quiet"] * rt.quiet + ["-v"] * rt.verbose + ["--no-color"] * rt.no_color
    args += ["serve", "--worker-of", str(os.getpid()), "--concurrency", str(concurrency)]
    for name in queues or []:
        args += ["--queue", name]
    return args + ["--burst"] * burst
