"""`pjobs serve`: the worker, with its schedules and (with --http) the alert receiver,
`/metrics` and the health checks; with --processes, more workers in processes of their own
(`cli.processes`)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import typer

from pjobs.cli.runtime import runtime
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
    every serve process. With --http it also receives monitoring alerts and serves
    /metrics, /healthz and /readyz. On SIGTERM or SIGINT it stops the listener, the
    schedules and then the worker: running jobs get worker.shutdown_timeout seconds, what
    did not finish is put back, and it exits 0. A second signal cuts the wait.

    With --processes N it starts N - 1 more processes that run jobs too (one process
    runs Python on one core at a time); they stop with it, and should one of them fail,
    serve stops and exits with its code.

    Example: pjobs serve --http 127.0.0.1:9400 --processes 2
    """
    stopper = Stopper()
    from pjobs.cli.output import message
    from pjobs.queue.worker import Worker

    rt = runtime(ctx)
    if concurrency is not None:  # the pool is sized from the setting
        settings = rt.settings()
        worker_settings = settings.worker.model_copy(update={"concurrency": concurrency})
        rt._settings = settings.with_groups(worker=worker_settings)
    app = rt.app()
    settings = app.settings
    from pjobs.queue.leases import waited_out

    # a database that is unavailable (a connection cut) while serve starts is waited out,
    # as the worker waits it out once running
    outage = settings.worker.max_outage_seconds
    if waited_out(lambda: app.store, "connecting", outage, stopper.requested) is None:
        return  # stopped while it waited: nothing claimed, nothing to put back
    app.registry.load_all()  # a plugin that does not load is a configuration error now
    job_queue = app.queue
    planned = []
    worker_only = worker_of is not None
    if worker_only:
        schedules = False  # the first process fires them (and listens)
    if (settings.scheduling.enabled if schedules is None else schedules) and not burst:
        from pjobs.queue import scheduler

        planned = scheduler.checked(settings, app.registry)
    listen = None if burst or worker_only else http or settings.receiver.listen
    listener = metrics = None
    ready = threading.Event()
    if listen:
        from pjobs.http.metrics import ServeMetrics
        from pjobs.http.server import Listener, build, receiver_tokens

        cfg = settings.receiver
        tokens = receiver_tokens(cfg)
        metrics = ServeMetrics(app)
        listener = Listener(build(app, tokens, metrics, ready), listen, cfg)
    worker = Worker(
        app.store, app.registry, settings, job_queue.context_for, app.clock,
        queues=queue, burst=burst, observer=metrics,
    )  # fmt: skip
    timer: Any = None
    if planned:
        timer = scheduler.Scheduler(app, planned)

    def stop(force: bool) -> None:
        # Called from the signal handler: only flags here (nothing that takes a lock).
        ready.clear()
        if listener is not None:
            listener.server.should_exit = True
        worker.stop(force)

    stopper.on_stop(stop)
    if stopper.requested.is_set():
        return  # stopped before it started: nothing to put back
    siblings = None
    processes = processes or settings.worker.processes
    if worker_of is not None:
        from pjobs.cli.processes import stop_when_orphaned

        stop_when_orphaned(worker_of, lambda: stop(False))
    elif processes > 1:
        import os

        from pjobs.cli.processes import Siblings, worker_command

        command = worker_command(rt, worker.concurrency, queue, burst)
        env = {**os.environ} | ({"PJOBS_DATABASE_URL": rt.db} if rt.db else {})
        started = siblings = Siblings(command, env, processes - 1)
        stopper.on_stop(lambda force: started.signal())
        started.start(on_failure=worker.stop)
    if timer is not None:
        waited_out(timer.catch_up, "catching up on schedules", outage, stopper.requested)
        timer.start()
    if listener is not None:
        listener.start()
    ready.set()
    from pjobs.settings.dburl import database_url

    where = f", http {listener.address}" if listener else ""
    message(
        f"pjobs serve: {database_url(settings).redacted()}, queues "
        f"{', '.join(queue or ['all'])}, concurrency {worker.concurrency}"
        f"{f' in each of {processes} processes' if siblings else ''}, "
        f"{len(planned)} schedule(s){where}{', burst' if burst else ''}",
        rt.quiet,
    )
    try:
        worker.run()
    except BaseException:
        if siblings is not None:
            siblings.signal()
        raise
    finally:
        ready.clear()
        if timer is not None:
            timer.stop()
        if listener is not None:
            listener.stop(settings.worker.shutdown_timeout)
        failed = siblings.wait() if siblings is not None else 0
    message(
        f"pjobs serve: stopped after {worker.processed} attempt(s), {worker.failed} failed",
        rt.quiet,
    )
    if failed:
        raise typer.Exit(failed)
