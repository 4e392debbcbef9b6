"""Processes pjobs starts die with the process that started them: a worker process of
`serve --processes`, a line-checking process of `usage import`. Each watches that its
parent is still the process that started it (given its pid: it may have died before the
child was up), and on Linux also asks the kernel to kill it when its parent dies."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

log = logging.getLogger("pjobs")
PARENT_CHECK_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def when_orphaned(parent: int, act: Callable[[], None]) -> None:
    """Call `act` once, on a thread of its own, should `parent` (the process that started
    this one) die, or have died already."""

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(PARENT_CHECK_SECONDS)
        act()

    threading.Thread(target=watch, name="pjobs-orphan-watch", daemon=True).start()


def die_with_parent(parent: int) -> None:
    """End this process the moment `parent` dies (a process pool's initializer): SIGKILL
    from the kernel where Linux offers it, else within PARENT_CHECK_SECONDS."""
    if sys.platform == "linux":
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watch below does it, a moment later
    when_orphaned(parent, lambda: os._exit(1))
