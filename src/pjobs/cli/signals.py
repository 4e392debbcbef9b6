"""Stopping `pjobs serve` by signal. The package imports this module first and, when the
process is `pjobs … serve …`, catches SIGTERM and SIGINT at once, before the imports that
build the command tree: a signal in the first instant of start-up is kept, and serve then
stops before it claims anything (exit 0), instead of dying with 143."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_early: list[int] = []


def _keep(signum: int, frame: FrameType | None) -> None:
    _early.append(signum)


def runs_serve(argv: list[str]) -> bool:
    """Whether `argv` is `pjobs [global options] serve …` (the command as parsed, not the
    word anywhere: `provision serve` or `--reason "…serve…"` do not run serve)."""
    from pjobs.cli.commands import command_named, is_the_program

    named = command_named(argv[1:])
    return is_the_program(argv) and named is not None and named[0] == "serve"


def catch_early(argv: list[str]) -> None:
    """Keep stop signals until `Stopper` takes over, when `argv` runs serve."""
    if runs_serve(argv):
        for signum in STOP_SIGNALS:
            signal.signal(signum, _keep)


class Stopper:
    """Signal handling of serve: a first SIGTERM/SIGINT (or one kept from start-up) asks it
    to stop cleanly (exit 0); a second one cuts the waiting short."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.signals = len(_early)
        if self.signals:
            self.requested.set()
        self.actions: list[Callable[[bool], None]] = []
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.requested.set()
        for action in self.actions:
            action(self.signals > 1)

    def on_stop(self, action: Callable[[bool], None]) -> None:
        self.actions.append(action)
