"""Confirmation of destructive commands: asked on a terminal, `--yes` without one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.cli.runtime import Runtime


def confirm(rt: Runtime, question: str, yes: bool) -> None:
    """Go on if `yes`, or if the person at the terminal says so; otherwise stop: a usage
    error (2) without a terminal, exit 0 with one line when declined."""
    import typer

    from pjobs.errors import UsageError

    if yes:
        return
    if sys.stdin is None or not sys.stdin.isatty():
        raise UsageError("this needs --yes when there is no terminal to confirm on")
    if not typer.confirm(question, default=False):
        sys.stderr.write("pjobs: nothing done\n")
        raise typer.Exit(0)
