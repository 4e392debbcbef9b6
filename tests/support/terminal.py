"""A command run as at a terminal: its output on a pseudo-terminal of a given width."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

from conftest import CLI, as_at_a_terminal


def on_a_terminal(cli: CLI, *args: str, columns: int = 400, answer: str | None = None) -> str:
    """`pjobs ARGS` with its stdout and stderr on a pseudo-terminal; what it printed. With
    `answer`, stdin is the terminal too, and `answer` is typed once a `[y/N]` question
    shows."""
    leader, follower = pty.openpty()
    env = {**cli.env, "COLUMNS": str(columns)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pjobs", *args], env=env, stdout=follower, stderr=follower,
        stdin=subprocess.DEVNULL if answer is None else follower,
        preexec_fn=as_at_a_terminal,
    )  # fmt: skip
    os.close(follower)
    output = b""
    while True:
        if answer is not None and b"[y/N]" in output:
            os.write(leader, answer.encode() + b"\n")
            answer = None
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        output += chunk
    process.wait(30)
    os.close(leader)
    return output.decode(errors="replace").replace("\r\n", "\n")
