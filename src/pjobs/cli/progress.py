"""Progress of a long command on stderr: a bar on a terminal, plain lines without one,
nothing with -q."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class Progress:
    def __init__(self, total: int, label: str, quiet: bool) -> None:
        self.total, self.label, self.quiet = total, label, quiet
        self.done = 0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[last]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, last="")
        return self

    def advance(self, what: str) -> None:
        """One more item is done; `what` says how it ended."""
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, last=what)
        elif not self.quiet:
            from pjobs.cli.output import error

            error(f"[{self.done}/{self.total}] {what}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
