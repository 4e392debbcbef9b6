"""What `pjobs serve` assembles and runs: the worker; with it, the schedules, the HTTP
listener (alert hooks, /metrics, health) and, with several processes, the worker processes
beside this one (they stop with it; should one fail, the whole serve stops with its exit
code, and a supervisor restarts it). The CLI parses options and catches signals; this
module owns the order things start and stop in."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pjobs.app import App
    from pjobs.http.server import Listener
    from pjobs.queue.worker import Worker

log = logging.getLogger("pjobs.serve")


@dataclass(frozen=True)
class ServeOptions:
    queues: Sequence[str] | None = None  # None: every queue
    burst: bool = False  # run what is due, then stop (no schedules, no listener)
    listen: str | None = None  # HOST:PORT of the listener (None: none)
    schedules: bool = True
    processes: int = 1  # this one included
    worker_of: int | None = None  # this process only runs a worker, for that serve's pid
    # how to start a worker process beside this one (`serve --worker-of PID …`)
    sibling_command: Sequence[str] = ()
    sibling_env: dict[str, str] = field(default_factory=dict)


class Service:
    """One serve process, built (every setting checked) before anything starts."""

    def __init__(self, app: App, options: ServeOptions) -> None:
        from pjobs.queue.worker import Worker

        self.app, self.options = app, options
        settings = app.settings
        app.registry.load_all()  # a plugin that does not load is a configuration error now
        self.ready = threading.Event()  # cleared as the process starts to shut down
        self.planned: list[Any] = []
        if options.schedules and not options.burst and options.worker_of is None:
            from pjobs.queue import scheduler

            self.planned = scheduler.checked(settings, app.registry)
        self.listener: Listener | None = None
        metrics = None
        if options.listen and not options.burst and options.worker_of is None:
            from pjobs.http.api import api_tokens
            from pjobs.http.metrics import ServeMetrics
            from pjobs.http.server import Listener, build, receiver_tokens
            from pjobs.http.ui.access import ui_viewers

            cfg = settings.receiver
            tokens = receiver_tokens(cfg)
            callers = api_tokens(settings.api, app.registry.names())
            metrics = ServeMetrics(app)
            viewers = ui_viewers(settings.ui)
            asgi = build(app, tokens, metrics, self.ready, callers, viewers)
            self.listener = Listener(asgi, options.listen, cfg)
        self.worker: Worker = Worker(
            app.store,
            app.registry,
            settings,
            app.queue.context_for,
            app.clock,
            queues=options.queues,
            burst=options.burst,
            observer=metrics,
        )
        self.timer: Any = None
        if self.planned:
            from pjobs.queue.scheduler import Scheduler

            self.timer = Scheduler(app, self.planned)
        self.siblings: Siblings | None = None

    def stop(self, force: bool = False) -> None:
        """Ask everything to stop (from a signal handler: only flags, no lock taken); a
        forced stop cuts the running jobs' time short."""
        self.ready.clear()
        if self.listener is not None:
            self.listener.server.should_exit = True
        self.worker.stop(force)
        if self.siblings is not None:
            self.siblings.signal()

    def start(self, stopping: threading.Event) -> None:
        """Start what runs beside the worker: the worker processes (or, in one of them,
        the watch on the serve that started it), the schedules, the listener."""
        from pjobs.queue.leases import waited_out

        options = self.options
        if options.worker_of is not None:
            from pjobs.orphans import when_orphaned

            def orphaned() -> None:
                log.warning("the serve process that started this one is gone: stopping")
                self.stop()

            when_orphaned(options.worker_of, orphaned)
        elif options.processes > 1:
            self.siblings = Siblings(
                list(options.sibling_command), options.sibling_env, options.processes - 1
            )
            self.siblings.start(on_failure=self.worker.stop)
        outage = self.app.settings.worker.max_outage_seconds
        if options.worker_of is None:  # the job types SQL may enqueue (`pjobs_enqueue`)
            app = self.app

            def record() -> None:
                app.registry.record(app.store, app.clock.now())

            waited_out(record, "recording job types", outage, stopping)
        if self.timer is not None:
            waited_out(self.timer.catch_up, "catching up on schedules", outage, stopping)
            self.timer.start()
        if self.listener is not None:
            self.listener.start()
        self.ready.set()

    def describe(self) -> str:
        """The line serve prints when it starts."""
        from pjobs.settings.dburl import database_url

        options, worker = self.options, self.worker
        where = f", http {self.listener.address}" if self.listener else ""
        each = f" in each of {options.processes} processes" if self.siblings else ""
        return (
            f"pjobs serve: {database_url(self.app.settings).redacted()}, queues "
            f"{', '.join(options.queues or ['all'])}, concurrency {worker.concurrency}{each}, "
            f"{len(self.planned)} schedule(s){where}{', burst' if options.burst else ''}"
        )

    def run(self) -> int:
        """Run the worker until it stops, then stop the rest; 0, or the exit code of the
        first worker process that failed."""
        try:
            self.worker.run()
        except BaseException:
            if self.siblings is not None:
                self.siblings.signal()
            raise
        finally:
            self.ready.clear()
            if self.timer is not None:
                self.timer.stop()
            if self.listener is not None:
                self.listener.stop(self.app.settings.worker.shutdown_timeout)
            failed = self.siblings.wait() if self.siblings is not None else 0
        return failed


class Siblings:
    """The worker-only serve processes a serve started. Every stop signal it gets is passed
    on to each (so a second one cuts their wait too); they stop when it dies (each is given
    its pid and watches that its parent is still that process)."""

    def __init__(self, command: list[str], env: dict[str, str], count: int) -> None:
        self.command, self.env, self.count = command, env, count
        self.processes: list[subprocess.Popen[bytes]] = []
        self.failed: int | None = None  # the exit code of the first that ended in error
        self._lock = threading.Lock()

    def start(self, on_failure: Callable[[], None]) -> None:
        """Start them; `on_failure` is called (once) when one ends with an error."""
        for _ in range(self.count):
            # a session of their own: a Ctrl-C reaches them once, through `signal`
            process = subprocess.Popen(self.command, env=self.env, start_new_session=True)
            self.processes.append(process)
            threading.Thread(
                target=self._watch, args=(process, on_failure), name="pjobs-sibling", daemon=True
            ).start()

    def _watch(self, process: subprocess.Popen[bytes], on_failure: Callable[[], None]) -> None:
        code = process.wait()
        if code == 0:
            return
        with self._lock:
            first = self.failed is None
            if first:
                self.failed = code if code > 0 else 1
        if first:
            log.error("serve process %d ended with exit code %d: stopping", process.pid, code)
            self.signal()
            on_failure()

    def signal(self) -> None:
        """Pass a stop signal on to each process still running (safe in a signal handler)."""
        for process in self.processes:
            if process.returncode is None:
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def wait(self) -> int:
        """Wait for all of them to end; 0, or the exit code of the first that failed."""
        for process in self.processes:
            process.wait()
        return self.failed or 0
