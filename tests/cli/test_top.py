"""`pjobs top` on a pseudo-terminal of 80x24: it draws, redraws after jobs are enqueued,
stays within 80 columns, and quits on `q`; without a terminal, a line a refresh."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from conftest import CLI, as_at_a_terminal

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Screen:
    """`pjobs ARGS` with stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, cli: CLI, *args: str) -> None:
        self.leader, follower = pty.openpty()
        env = {**cli.env, "COLUMNS": "80", "LINES": "24", "TERM": "xterm"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pjobs", *args], env=env,
            stdin=follower, stdout=follower, stderr=follower, preexec_fn=as_at_a_terminal,
        )  # fmt: skip
        os.close(follower)
        self.text = ""

    def until(self, condition: str, seconds: float = 30) -> str:
        """Read until the output (escape sequences taken out) matches `condition`."""
        deadline = time.monotonic() + seconds
        while not re.search(condition, self.text):
            left = deadline - time.monotonic()
            assert left > 0, f"never showed {condition!r}:\n{self.text[-2000:]}"
            ready, _, _ = select.select([self.leader], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.leader, 65536)
                except OSError:
                    chunk = b""
                assert chunk, f"ended before showing {condition!r}:\n{self.text[-2000:]}"
                self.text += ANSI.sub("", chunk.decode(errors="replace"))
        return self.text

    def type(self, keys: str) -> None:
        os.write(self.leader, keys.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self.leader)


def test_top_draws_updates_after_an_enqueue_and_quits_on_q(cli: CLI) -> None:
    screen = Screen(cli, "top", "--every", "1s")
    try:
        counts = r"queued\s+running\s+succeeded\s+failed\s+cancelled\s*\n\s*{}\s+0\s+0\s+0\s+0"
        screen.until(counts.format(0))
        assert cli("jobs", "enqueue", "noop", "--count", "3").returncode == 0
        shown = screen.until(counts.format(3))
        assert "q quits" in shown and "lag" in shown and "workers 0" in shown
        lines = shown.replace("\r", "\n").splitlines()
        assert max(len(line) for line in lines) <= 80, max(lines, key=len)
        screen.type("t")  # one type shown: the only one there is
        screen.until(r"type noop")
        screen.type("q")
        assert screen.process.wait(10) == 0
    finally:
        screen.close()


def test_top_without_a_terminal_prints_a_line_a_refresh(cli: CLI) -> None:
    assert cli("jobs", "enqueue", "noop", "--count", "2").returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "pjobs", "top", "--every", "1s"],
        env=cli.env, stdout=subprocess.PIPE, text=True, preexec_fn=as_at_a_terminal,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
    finally:
        process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    pattern = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ queued=2 running=0 succeeded=0 .* workers=0\n$"
    assert re.match(pattern, first), first
    assert re.match(pattern, second), second
