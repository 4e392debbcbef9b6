"""Expected failures and the exit code each one maps to.

Every error a user can cause or fix is a `PjobsError`: the CLI prints its message
as one line on stderr and exits with its code, never with a traceback.

    PjobsError
    ├── UsageError (2)
    ├── NotFoundError (4)
    ├── InvalidInputError (65)
    │   ├── InvalidStateError       the request does not fit the thing's current state
    │   └── IntegrityConflict       the database refused a duplicate or a broken reference
    ├── UnavailableError (69)
    │   ├── DatabaseUnavailable     cannot connect, connection lost, file missing
    │   └── DatabaseReadOnly        a read-only replica or file
    ├── TemporaryError (75)
    │   ├── DatabaseFull            disk or quota full
    │   └── DatabaseConflict        busy, locked, serialization failure, deadlock
    ├── ConfigError (78)
    ├── JobFailedError (1)
    ├── JobInterrupted (130)    Ctrl-C during an inline run: its job is cancelled
    └── CommandFailed           a job or batch that failed, with its exit code

Database driver errors are turned into these kinds in one place, `pjobs.store.errors`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

T = TypeVar("T")


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the job failed, or an unexpected error
    USAGE = 2
    FINDINGS = 3  # a dry-run check found projects over a threshold
    NOT_FOUND = 4
    INVALID_INPUT = 65  # EX_DATAERR
    UNAVAILABLE = 69  # EX_UNAVAILABLE: database, storage or HTTP service
    TEMPORARY = 75  # EX_TEMPFAIL: retry later (e.g. --wait timed out)
    CONFIG = 78  # EX_CONFIG
    INTERRUPTED = 130


class KeyVerdict(IntEnum):
    """`pjobs keys verify` exits by what it found."""

    VALID = 0
    EXPIRING = 10  # valid during its grace period: switch to the new key
    EXPIRED = 11
    REVOKED = 12
    PROJECT_NOT_ACTIVE = 13  # the key is fine; its project is suspended (or not active)
    UNKNOWN = ExitCode.NOT_FOUND
    MALFORMED = ExitCode.INVALID_INPUT


# What each exit status means, for `pjobs --help`, the man pages and README.
EXIT_CODES_MEANING: dict[int, str] = {
    ExitCode.OK: "ok",
    ExitCode.FAILURE: "the job failed or an unexpected error",
    ExitCode.USAGE: "usage error",
    ExitCode.FINDINGS: "findings (a dry-run check found something)",
    ExitCode.NOT_FOUND: "not found",
    ExitCode.INVALID_INPUT: "invalid input data",
    ExitCode.UNAVAILABLE: "a service (database, storage, HTTP) is unavailable",
    ExitCode.TEMPORARY: "temporary failure (retry later)",
    ExitCode.CONFIG: "configuration error",
    ExitCode.INTERRUPTED: "interrupted",
}
# `keys verify` alone exits with these too (its help and the keys man page say so).
KEY_VERDICTS_MEANING: dict[int, str] = {
    KeyVerdict.EXPIRING: "keys verify: expiring (valid during its grace)",
    KeyVerdict.EXPIRED: "keys verify: expired",
    KeyVerdict.REVOKED: "keys verify: revoked",
    KeyVerdict.PROJECT_NOT_ACTIVE: "keys verify: its project is not active",
}
EXIT_CODES_HELP = (
    "Exit codes: "
    + "; ".join(f"{int(code)} {meaning}" for code, meaning in EXIT_CODES_MEANING.items())
    + "."
)


class PjobsError(Exception):
    """An expected error: one line for the user and an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PjobsError):
    exit_code = ExitCode.USAGE


class NotFoundError(PjobsError):
    exit_code = ExitCode.NOT_FOUND


def found(value: T | None, what: str, name: str) -> T:
    """`value`, or NotFoundError (exit 4): "no {what} {name}" (a long name cut)."""
    if value is None:
        raise NotFoundError(f"no {what} {name[:60]}")
    return value


class InvalidInputError(PjobsError):
    exit_code = ExitCode.INVALID_INPUT


class UnavailableError(PjobsError):
    exit_code = ExitCode.UNAVAILABLE


class TemporaryError(PjobsError):
    exit_code = ExitCode.TEMPORARY


class ConfigError(PjobsError):
    exit_code = ExitCode.CONFIG


class JobFailedError(PjobsError):
    exit_code = ExitCode.FAILURE


class JobInterrupted(PjobsError):
    """An inline run stopped by Ctrl-C: its job is cancelled, not left for a worker (whose
    results, such as new keys, nobody would see)."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, job_id: int, job_type: str) -> None:
        super().__init__(
            f"interrupted: job {job_id} ({job_type}) is cancelled; no worker will run it"
        )
        self.job_id = job_id


class CommandFailed(PjobsError):
    """A command that ran and failed (a job, some of a batch), with the code it exits with
    (a refused job's own)."""

    def __init__(self, message: str, exit_code: int = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[assignment]


class InvalidStateError(InvalidInputError):
    """The request does not fit the current state of the thing (e.g. cancel a finished job)."""


class IntegrityConflict(InvalidInputError):
    """The database refused a write: a duplicate key or a reference to nothing."""


class DatabaseUnavailable(UnavailableError):
    """The database cannot be reached (or its file opened); try again when it is back."""


class DatabaseReadOnly(UnavailableError):
    """The database accepts no writes (a replica after a failover, a read-only file)."""


class DatabaseFull(TemporaryError):
    """The database's disk (or quota) is full; writes may succeed once space is freed."""


class DatabaseConflict(TemporaryError):
    """Another writer was in the way (busy, locked, serialization failure, deadlock)."""


def choice_hint(given: str, choices: list[str]) -> str:
    """ "; did you mean X?" when `given` is close to one of `choices` (else "")."""
    from difflib import get_close_matches

    close = get_close_matches(given, choices, n=1)
    return f"; did you mean {close[0]}?" if close else ""
