"""Options that many commands share, declared once."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from pjobs.cli import completion


def _checked_duration(param: typer.CallbackParam, value: str | None) -> str | None:
    """A DURATION's text, checked as the command line is read: `7` without a unit is
    refused (65) before the command does anything."""
    from pjobs.timeutil import parse_duration

    return _checked(param, value, parse_duration)


def _checked_time(param: typer.CallbackParam, value: str | None) -> str | None:
    """A TIME's text, checked as the command line is read."""
    from pjobs.timeutil import parse_time

    return _checked(param, value, parse_time)


def _checked(param: typer.CallbackParam, value: str | None, parse: Any) -> str | None:
    from pjobs.errors import InvalidInputError

    if value is not None:
        try:
            parse(value)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{param.opts[0]}: {exc}") from None
    return value


def duration_option(name: str, help: str) -> Any:
    """An option taking a DURATION (`30s`, `15m`, `24h`, `7d`, `1h30m`; never a bare
    number), checked as it is read."""
    return typer.Option(name, metavar="DURATION", help=help, callback=_checked_duration)


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask to confirm (needed without a terminal).")
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print what would be done; change nothing.")
]
EnqueueOption = Annotated[
    bool,
    typer.Option("--enqueue", help="Put the job on the queue for `pjobs serve`; print its id."),
]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait", help="Block until the job ends; exit by its outcome (handlers: with --enqueue)."
    ),
]
TimeoutOption = Annotated[
    str | None, duration_option("--timeout", "With --wait: give up after this long (exit 75).")
]
MaxAttemptsOption = Annotated[
    int | None,
    typer.Option("--max-attempts", help="Attempts before the job fails (default: its type's)."),
]
DelayOption = Annotated[
    str | None,
    duration_option(
        "--delay", "Run no earlier than this from now: 30s, 15m, 2h (handlers: --enqueue)."
    ),
]
PriorityOption = Annotated[int, typer.Option("--priority", help="Higher runs first.")]
IdempotencyKeyOption = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key", help="While a job with this key is queued or running, reuse it."
    ),
]
TimeLimitOption = Annotated[
    str | None,
    duration_option(
        "--time-limit",
        "An attempt running longer is given up on and retried: 90s, 30m, 2h "
        "[worker.time_limit_seconds].",
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="TIME",
        callback=_checked_time,
        help="Only those since: an ISO time (2026-12-06T10:00, 2026-12), or a duration ago "
        "(2h, 7d).",
    ),
]
ProjectFilterOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        metavar="PROJECT_ID",
        help="Only this project's.",
        autocompletion=completion.project_ids,
    ),
]
ProjectArgument = Annotated[
    str,
    typer.Argument(
        metavar="PROJECT_ID", help="e.g. proj-123", autocompletion=completion.project_ids
    ),
]
OptionalProjectArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="PROJECT_ID", help="Only this project's.", autocompletion=completion.project_ids
    ),
]
KeyArgument = Annotated[
    str,
    typer.Argument(
        metavar="KEY_ID", help="e.g. key_0123456789abcdef", autocompletion=completion.key_ids
    ),
]
JobTypeOption = Annotated[
    str | None,
    typer.Option("--type", help="Only jobs of this type.", autocompletion=completion.job_types),
]


F = TypeVar("F", bound=Callable[..., None])


def gathered(defaults: Any, name: str, options: dict[str, Any]) -> Callable[[F], F]:
    """Give a command `options` (field name -> option annotation), received as one
    argument `name`: the dataclass `defaults` is an instance of, built from them."""

    def decorate(command: F) -> F:
        own = inspect.signature(command, eval_str=True)
        shared = [
            inspect.Parameter(
                field,
                inspect.Parameter.KEYWORD_ONLY,
                default=getattr(defaults, field),
                annotation=annotation,
            )
            for field, annotation in options.items()
        ]
        params = [p for p in own.parameters.values() if p.name != name] + shared

        @functools.wraps(command)
        def with_options(*args: Any, **kwargs: Any) -> None:
            values = {field: kwargs.pop(field) for field in options}
            command(*args, **{name: type(defaults)(**values)}, **kwargs)

        with_options.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in params}
        return with_options  # type: ignore[return-value]

    return decorate
