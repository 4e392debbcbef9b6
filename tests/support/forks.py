"""`pjobs` commands for the tests, each one a process of its own forked from a server that
has started Python and imported pjobs once (a fork server, as multiprocessing's
"forkserver"): what a command does, reads, prints and exits with is what `python -m pjobs`
does, in its own environment, working folder and standard streams, without paying the
interpreter's start and pjobs' imports (~0.2 s of CPU) for each of the suite's thousand
commands. Start-up itself is tested as it really happens (tests/unit/test_startup.py);
commands run in the background or on a terminal start as new processes (`CLI.popen`,
support.terminal).

    python -m support.forks SOCKET     # the server: serves until its stdin closes
"""

from __future__ import annotations

import atexit
import importlib
import json
import locale
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

# What commands import when they run, imported once by the server instead.
PRELOADED = (
    "pjobs.cli",
    "pjobs.app",
    "pjobs.handlers",
    "pydantic",
    "psycopg",
    "psycopg_pool",
    "httpx",
    "rich.console",
    "rich.table",
    "apscheduler.triggers.cron",
)
_NUMBER = struct.Struct("!q")


def _read_number(conn: socket.socket) -> int:
    data = b""
    while len(data) < _NUMBER.size:
        chunk = conn.recv(_NUMBER.size - len(data))
        if not chunk:
            raise ConnectionError("the fork server hung up")
        data += chunk
    return int(_NUMBER.unpack(data)[0])


# -- the server ----------------------------------------------------------------------------


def serve(path: str) -> None:
    for module in PRELOADED:
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # each handler reaped as it ends
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
            return  # the test process ended
        if listener in ready:
            conn, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                _handle(conn)
            conn.close()


def _handle(conn: socket.socket) -> None:
    """One command: receive it and its streams, fork it, say its pid, then its exit code."""
    try:
        message, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        size = _NUMBER.unpack(message[: _NUMBER.size])[0]
        body = message[_NUMBER.size :]
        while len(body) < size:
            body += conn.recv(size - len(body))
        request = json.loads(body)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run(request, fds)
        for fd in fds:
            os.close(fd)
        conn.sendall(_NUMBER.pack(pid))
        _, status = os.waitpid(pid, 0)
        conn.sendall(_NUMBER.pack(os.waitstatus_to_exitcode(status)))
    finally:
        os._exit(0)


def _run(request: dict[str, object], fds: Sequence[int]) -> None:
    """In the command's process: its streams, folder, environment and arguments, then
    `python -m pjobs` as it runs, to the exit (never returns)."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update(request["env"])  # type: ignore[arg-type]
        encoding = locale.getpreferredencoding(False)
        sys.stdin = sys.__stdin__ = open(0, encoding=encoding, closefd=False)
        sys.stdout = sys.__stdout__ = open(1, "w", encoding=encoding, closefd=False)
        sys.stderr = sys.__stderr__ = open(
            2, "w", encoding=encoding, errors="backslashreplace", buffering=1, closefd=False
        )
        import pjobs
        from pjobs.cli import main
        from pjobs.cli.signals import catch_early

        entry = Path(pjobs.__file__ or "").parent / "__main__.py"  # argv[0] of `python -m`
        sys.argv = [str(entry), *request["argv"]]  # type: ignore[list-item]
        catch_early(sys.argv)
        try:
            main()
            code = 0
        except SystemExit as exit:
            if exit.code is None or isinstance(exit.code, int):
                code = exit.code or 0
            else:
                sys.stderr.write(f"{exit.code}\n")
        except BaseException:
            traceback.print_exc()
        for thread in threading.enumerate():  # as the interpreter waits for them at exit
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


# -- the test process's side ---------------------------------------------------------------

# This test process's fork servers, by the interpreter's settings of their environment
# (PYTHONPATH…: read as Python starts, so a command with others needs a server of its own).
_servers: dict[tuple[tuple[str, str], ...], tuple[subprocess.Popen[bytes], str]] = {}
_lock = threading.Lock()


def _started(env: dict[str, str]) -> str:
    """The socket of the fork server for `env`'s interpreter settings, started first."""
    interpreter = tuple(sorted((k, v) for k, v in env.items() if k.startswith("PYTHON")))
    with _lock:
        found = _servers.get(interpreter)
        if found is None or found[0].poll() is not None:
            path = os.path.join(tempfile.mkdtemp(prefix="pjobs-forks-"), "socket")
            base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
            process = subprocess.Popen(
                [sys.executable, "-m", "support.forks", path],
                env=base | dict(interpreter),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert process.stdout is not None and process.stdout.readline() == b"ready\n"
            found = _servers[interpreter] = (process, path)
            atexit.register(_stop, process, path)
        return found[1]


def _stop(process: subprocess.Popen[bytes], path: str) -> None:
    import shutil

    if process.stdin is not None:
        process.stdin.close()  # the server's signal to end
    process.wait(10)
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def run(
    argv: Sequence[str], env: dict[str, str], input: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`python -m pjobs ARGV` in `env`, as `subprocess.run(…, capture_output=True,
    text=True)` runs it (stdin: `input`, else nothing)."""
    path = _started(env)
    encoding = locale.getpreferredencoding(False)
    with (
        tempfile.TemporaryFile() as stdin,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn,
    ):
        if input is not None:
            stdin.write(input.encode(encoding))
            stdin.seek(0)
        body = json.dumps({"argv": list(argv), "env": env, "cwd": os.getcwd()}).encode()
        conn.connect(path)
        socket.send_fds(
            conn, [_NUMBER.pack(len(body)) + body], [stdin.fileno(), out.fileno(), err.fileno()]
        )
        conn.settimeout(timeout)
        pid = _read_number(conn)
        try:
            code = _read_number(conn)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(["pjobs", *argv], timeout) from None
        texts = []
        for stream in (out, err):  # decoded as text=True does (universal newlines)
            stream.seek(0)
            text = stream.read().decode(encoding)
            texts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
        return subprocess.CompletedProcess(["pjobs", *argv], code, texts[0], texts[1])


if __name__ == "__main__":
    serve(sys.argv[1])
