"""`pjobs top`: the queue at a glance, live: jobs by state, those done and failed in the
last minute, the age of the oldest due job, the workers running jobs, the newest failures.
On a terminal it redraws in place (fits 80x24) and reads keys: `t` and `u` step through
the job types and queues to show one of them, `a` shows all again, `q` quits. Without a
terminal it prints one line a refresh, until stopped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli.options import duration_option
from pjobs.cli.runtime import runtime

if TYPE_CHECKING:
    from pjobs.queue.jobqueue import JobQueue

FAILURES = 5  # the newest failures shown (the screen is 24 lines)
HELP_LINE = "q quits · t type · u queue · a all"


def top(
    ctx: typer.Context,
    every: Annotated[
        str, duration_option("--every", "How often it refreshes (default: 2s).")
    ] = "2s",
) -> None:
    """The queue live: jobs by state, the last minute, lag, workers, newest failures.

    Example: pjobs top --every 5s
    """
    from pjobs.timeutil import parse_duration

    queue = runtime(ctx).app().queue
    seconds = max(parse_duration(every).total_seconds(), 0.2)
    if sys.stdout.isatty():
        _live(queue, seconds)
    else:
        _lines(queue, seconds)


class Filter:
    """Which queue and job type are shown (None: all), stepped through by keys."""

    def __init__(self) -> None:
        self.queue: str | None = None
        self.type: str | None = None

    def key(self, key: str, seen: dict[str, Any]) -> bool:
        """Act on a key; False when it asks to quit."""
        if key == "q":
            return False
        if key == "t":
            self.type = _next(self.type, seen["types"])
        elif key == "u":
            self.queue = _next(self.queue, seen["queues"])
        elif key == "a":
            self.queue = self.type = None
        return True


def _next(current: str | None, choices: list[str]) -> str | None:
    """The choice after `current`; after the last, None (all)."""
    if current not in choices:
        return choices[0] if choices else None
    index = choices.index(current) + 1
    return choices[index] if index < len(choices) else None


def _live(queue: JobQueue, seconds: float) -> None:
    from rich.live import Live

    from pjobs.cli.output import console

    shown = Filter()
    with _keys() as read_key, Live(console=console(), auto_refresh=False) as live:
        while True:
            seen = queue.overview(shown.queue, shown.type, FAILURES)
            live.update(_screen(seen, seconds), refresh=True)
            key = read_key(seconds)
            if key is not None and not shown.key(key, seen):
                return


def _lines(queue: JobQueue, seconds: float) -> None:
    import time

    try:
        while True:
            sys.stdout.write(_line(queue.overview(failures=0)) + "\n")
            sys.stdout.flush()
            time.sleep(seconds)
    except KeyboardInterrupt:
        return


def _line(seen: dict[str, Any]) -> str:
    from pjobs.shown import timestamp

    states = " ".join(f"{state}={count}" for state, count in seen["states"].items())
    minute = seen["last_minute"]
    return (
        f"{timestamp(seen['at'])} {states} done/min={minute['succeeded']} "
        f"failed/min={minute['failed']} lag={_lag(seen)} workers={seen['workers']}"
    )


def _lag(seen: dict[str, Any]) -> str:
    age = seen["oldest_due_age_seconds"]
    return "-" if age is None else f"{age:.1f}s"


def _screen(seen: dict[str, Any], seconds: float) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from pjobs.shown import timestamp, visible

    showing = f"queue {seen['queue'] or 'all'}, type {seen['type'] or 'all'}"
    head = Text(f"pjobs top  {timestamp(seen['at'])}  every {seconds:g}s  {showing}")
    states = Table(box=None, pad_edge=False, show_edge=False)
    for state in seen["states"]:
        states.add_column(state, justify="right")
    states.add_row(*(str(count) for count in seen["states"].values()))
    minute = seen["last_minute"]
    pace = Text(
        f"last minute: {minute['succeeded']} done, {minute['failed']} failed, "
        f"{minute['cancelled']} cancelled   lag {_lag(seen)}   workers {seen['workers']}"
    )
    failures = Table(box=None, pad_edge=False, show_edge=False, title_justify="left")
    for name in ("id", "type", "finished", "error"):
        failures.add_column(name, no_wrap=True, overflow="ellipsis")
    for job in seen["failures"]:
        error = visible((job.last_error or "").splitlines()[0] if job.last_error else "")
        failures.add_row(str(job.id), job.type, timestamp(job.finished_at), error)
    parts: list[Any] = [head, Text(""), states, Text(""), pace, Text("")]
    parts += [Text("newest failures"), failures] if seen["failures"] else [Text("no failures")]
    return Group(*parts, Text(""), Text(HELP_LINE, style="dim"))


@contextmanager
def _keys() -> Iterator[Any]:
    """A key reader: `read(timeout)` waits up to `timeout` seconds for a key (None: none);
    the terminal's input in cbreak mode meanwhile (each key at once, not echoed)."""
    import select

    stdin = sys.stdin
    if not stdin.isatty():

        def wait(timeout: float) -> str | None:
            import time

            time.sleep(timeout)
            return None

        yield wait
        return
    import termios
    import tty

    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read(timeout: float) -> str | None:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        import os

        return os.read(fd, 1).decode(errors="replace").lower()

    try:
        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
