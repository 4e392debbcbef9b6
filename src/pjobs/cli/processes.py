"""`pjobs serve --processes N`: the process an operator started runs a worker, the
schedules and the listener; it starts N - 1 more that each run a worker only, with the same
settings, queues, concurrency and burst. One Python process runs Python on one core at a
time: more processes use more cores.

Every stop signal the first process gets is passed on to each of the others (so a second
one cuts their wait too). They stop when it dies: each is given its pid and watches that
its parent is still that process. Should one of them end with an error, the others are
asked to stop, and serve exits with that process's exit code (or 1 when it was killed): a
supervisor (systemd, Kubernetes) restarts the whole serve.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.cli.runtime import Runtime

log = logging.getLogger("pjobs.serve")


def worker_command(
    rt: Runtime, concurrency: int, queues: Sequence[str] | None, burst: bool
) -> list[str]:
    """The command line of a worker-only serve process with these options (the database
    URL goes by the environment: a command line is visible to every user of the machine)."""
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


class Siblings:
    """The worker-only serve processes a serve started."""

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


def stop_when_orphaned(parent: int, stop: Callable[[], None]) -> None:
    """Call `stop` once, should `parent`, the serve that started this process, die (or
    have died already: it may be killed before this process is up)."""
    from pjobs.orphans import when_orphaned

    def orphaned() -> None:
        log.warning("the serve process that started this one is gone: stopping")
        stop()

    when_orphaned(parent, orphaned)
