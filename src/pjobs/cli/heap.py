"""The garbage collector while the `pjobs` program starts and stops.

Start-up builds a heap of objects that live as long as the process (modules, classes,
pydantic models, the command tree). The collector's passes over it while it grows cost
`serve` a tenth of its start (30 ms before its first claim), and its passes at exit walk
it all again (40 ms more). So the program collects less often while it starts
(`starting`); a long-running command, once it has what it needs, freezes what start-up
built, which no pass walks again, and collects as usual from there (`started`); and at
exit what is left is frozen before the interpreter's last passes. Objects are still
freed as their references go; only cycles wait longer for a pass.
"""

from __future__ import annotations

import atexit
import gc

from pjobs.cli.commands import is_the_program

# a young-generation pass every 100,000 allocations (700 is Python's), older ones as usual
START_UP_THRESHOLD = (100_000, 10, 10)
_usual: list[tuple[int, int, int]] = []  # Python's thresholds, while starting


def starting(argv: list[str]) -> None:
    """When this process is the `pjobs` program (not a library import): collect less
    often until `started`, and freeze the heap at exit."""
    if is_the_program(argv) and not _usual:
        _usual.append(gc.get_threshold())
        gc.set_threshold(*START_UP_THRESHOLD)
        atexit.register(gc.freeze)  # registered first: run last, after the others


def started() -> None:
    """Start-up is over: freeze what it built, and collect as usual from here on."""
    if _usual:
        gc.freeze()
        gc.set_threshold(*_usual.pop())
