"""`pjobs serve`: the worker."""

from __future__ import annotations

from typing import Annotated

import typer

from pjobs.cli.runtime import runtime


def serve(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=1024, help="Jobs run at once [worker.concurrency].")
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", help="Only these queues (repeatable).")
    ] = None,
    burst: Annotated[bool, typer.Option(help="Run what is due, then exit.")] = False,
) -> None:
    """Run jobs from the queue until SIGTERM/SIGINT (or, with --burst, until none is due).

    On SIGTERM or SIGINT it stops claiming, gives running jobs worker.shutdown_timeout
    seconds, puts back what did not finish, and exits 0. A second signal cuts the wait.
    """
    import signal

    from pjobs.handlers.rotate_key import expire_keys
    from pjobs.worker import Worker

    rt = runtime(ctx)
    if concurrency is not None:  # the pool is sized from the setting
        settings = rt.settings()
        rt._settings = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"concurrency": concurrency})}
        )
    app = rt.app()
    job_queue = app.queue
    worker = Worker(
        app.store,
        app.registry,
        app.settings,
        job_queue.context_for,
        app.clock,
        queues=queue,
        burst=burst,
        maintenance=[
            app.notifier.deliver_due,
            lambda: expire_keys(app.store, app.clock, "serve:key-expiry"),
        ],
    )

    def on_signal(signum: int, frame: object) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run()
