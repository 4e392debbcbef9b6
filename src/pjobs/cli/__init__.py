"""The `pjobs` command line. Modules here import only what `--help` needs; each command
imports its heavy machinery (pydantic, database drivers, httpx) when it runs."""

from __future__ import annotations

import sys

from pjobs.cli.heap import starting
from pjobs.cli.signals import catch_early

catch_early(sys.argv)  # first: a stop signal during the imports below is kept for serve
starting(sys.argv)  # and the collector's passes over what they build are put off

import importlib
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from pjobs import __version__
from pjobs.cli import completion, wording
from pjobs.cli.commands import COMMANDS, GLOBAL_OPTIONS, command_named, with_optional_values
from pjobs.cli.output import fail, wants_json
from pjobs.cli.runtime import Runtime
from pjobs.errors import EXIT_CODES_HELP, ExitCode, PjobsError
from pjobs.redaction import redact

app = typer.Typer(
    name="pjobs",
    help=(
        "Operations toolkit of a multi-tenant platform: provisioning, API keys, webhooks, "
        "backups, quotas and abuse suspension, as jobs run inline or by `pjobs serve`.\n\n"
        + EXIT_CODES_HELP
        + "\n\nExample: pjobs provision proj-123 --name 'Acme shop' --owner user-42\n\n"
        "Example: pjobs serve --http 127.0.0.1:9400"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no boxes, no colours, no rich import
    context_settings={"help_option_names": ["-h", "--help"]},
)
_registered: set[str] = set()
wording.install()


def register(names: list[str] | None = None, subcommand: str | None = None) -> typer.Typer:
    """Add these commands (None: all) to the app, a group with only its `subcommand` when
    that names one of the group's commands; the app."""
    for name in COMMANDS if names is None else names:
        if name in _registered:
            continue
        module_name, attribute, group = COMMANDS[name]
        target = getattr(importlib.import_module(f"pjobs.cli.{module_name}"), attribute)
        if group:
            app.add_typer(_narrowed(target, subcommand), name=name)
        else:
            app.command(name)(target)
        _registered.add(name)
    return app


def _narrowed(group: typer.Typer, subcommand: str | None) -> typer.Typer:
    """`group` with only its command `subcommand`, if it has one (else the whole group)."""
    from copy import copy

    from typer.main import get_command_name
    from typer.models import CommandInfo

    def name(command: CommandInfo) -> str:
        return command.name or get_command_name(getattr(command.callback, "__name__", ""))

    chosen = [command for command in group.registered_commands if name(command) == subcommand]
    if not chosen:
        return group
    narrowed = copy(group)
    narrowed.registered_commands = chosen
    narrowed.registered_groups = []
    return narrowed


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"pjobs {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            envvar="PJOBS_DATABASE_URL",
            help="Database: sqlite:///PATH or postgresql://USER@HOST/DB.",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            envvar="PJOBS_CONFIG",
            help="TOML config file.",
            dir_okay=False,
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="NAME",
            envvar="PJOBS_PROFILE",
            help="The config file's [profiles.NAME] settings, over its others.",
            show_default=False,
            autocompletion=completion.profiles,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            metavar="NAME",
            help="Who the audit trail names as asking (default: your OS user) [PJOBS_ACTOR].",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv: debug).")
    ] = 0,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colors (NO_COLOR is honoured too).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    runtime = Runtime(
        db=db,
        config=config,
        profile=profile,
        actor_flag=actor,
        quiet=quiet,
        verbose=verbose,
        no_color=no_color,
    )
    runtime.configure_logging()
    if no_color:
        from pjobs.cli.output import disable_color

        disable_color()
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


def main() -> None:
    """The console script: expected errors are one line and an exit code, no traceback."""
    import os

    # pydantic would scan every installed package's entry points for its plugins on each
    # call; pjobs uses none (PYDANTIC_DISABLE_PLUGINS set by the caller wins)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    named = None if os.environ.get("_PJOBS_COMPLETE") else command_named(sys.argv[1:])
    if named is None:
        register()
    else:
        register([named[0]], subcommand=named[1])
    from typer import Abort
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
    from typer._click.exceptions import UsageError as ClickUsageError

    as_json = wants_json(sys.argv[1:])

    def fail_with(text: str, code: int) -> NoReturn:
        fail(redact(text), code, as_json)
        sys.exit(code)

    try:
        result = app(
            args=with_optional_values(sys.argv[1:]), prog_name="pjobs", standalone_mode=False
        )
    except NoArgsIsHelpError as exc:  # `pjobs`, `pjobs jobs`: the help, as a usage error
        sys.stderr.write(exc.format_message() + "\n")
        sys.exit(int(ExitCode.USAGE))
    except ClickUsageError as exc:  # one line, as every other error
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        option = getattr(exc, "option_name", None)
        if option in GLOBAL_OPTIONS:
            where += f"; global options such as {option} go before the command"
        fail_with(wording.usage_error(exc) + where, int(ExitCode.USAGE))
    except ClickException as exc:
        fail_with(exc.format_message(), exc.exit_code)
    except PjobsError as exc:
        fail_with(str(exc), int(exc.exit_code))
    except (Abort, KeyboardInterrupt):
        fail_with("interrupted", int(ExitCode.INTERRUPTED))
    except Exception as exc:
        if "-vv" in sys.argv or "--verbose" in sys.argv:
            raise
        fail_with(
            f"unexpected error: {type(exc).__name__}: {exc} (run with -vv for details)",
            int(ExitCode.FAILURE),
        )
    sys.exit(result if isinstance(result, int) else 0)
