"""Expected failures and the exit code each one maps to.

Every error a user can cause or fix is a `PjobsError`: the CLI prints its message
as one line on stderr and exits with its code, never with a traceback.
"""

from __future__ import annotations

from enum import IntEnum


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


EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 job failed or unexpected error, 2 usage error, "
    "3 findings (dry-run checks), 4 not found, 65 invalid input data, "
    "69 service unavailable, 75 temporary failure (retry later), 78 configuration error, "
    "130 interrupted."
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


class InvalidStateError(PjobsError):
    """The request does not fit the current state of the thing (e.g. cancel a finished job)."""

    exit_code = ExitCode.INVALID_INPUT
