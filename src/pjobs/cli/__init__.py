"""The `pjobs` command line. Modules here import only what `--help` needs; each command
imports its heavy machinery (pydantic, database drivers, httpx) when it runs."""

from __future__ import annotations

import sys

from pjobs.cli.signals import catch_early

catch_early(sys.argv)  # first: a stop signal during the imports below is kept for serve

from pathlib import Path
from typing import Annotated

import typer

from pjobs import __version__
from pjobs.cli import (
    audit,
    backups,
    db,
    deliveries,
    enforcement,
    exports,
    jobs,
    jobs_steering,
    keys,
    lifecycle,
    notifications,
    projects,
    schedules,
    serve,
    usage,
    webhooks,
)
from pjobs.cli.output import error
from pjobs.cli.runtime import Runtime
from pjobs.errors import EXIT_CODES_HELP, ExitCode, PjobsError
from pjobs.redaction import redact

app = typer.Typer(
    name="pjobs",
    help=(
        "Operations toolkit of a multi-tenant platform: provisioning, API keys, webhooks, "
        "backups, quotas and abuse suspension, as jobs run inline or by `pjobs serve`.\n\n"
        + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("provision")(lifecycle.provision)
app.command("deprovision")(lifecycle.deprovision)
app.command("rotate-key")(lifecycle.rotate_key)
app.command("check-limits")(enforcement.check_limits)
app.command("scan-abuse")(enforcement.scan_abuse)
app.command("suspend")(enforcement.suspend)
app.command("resume")(enforcement.resume)
app.command("deliver-webhook")(deliveries.deliver_webhook)
app.command("export-backup")(exports.export_backup)
for verb in ("cancel", "retry", "purge"):
    jobs.app.command(verb)(getattr(jobs_steering, verb))
app.add_typer(jobs.app, name="jobs")
app.add_typer(projects.app, name="projects")
app.add_typer(projects.owners_app, name="owners")
app.add_typer(keys.app, name="keys")
app.add_typer(usage.usage_app, name="usage")
app.add_typer(usage.quotas_app, name="quotas")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(deliveries.events_app, name="events")
app.add_typer(backups.app, name="backups")
app.add_typer(schedules.app, name="schedules")
app.add_typer(schedules.alerts_app, name="alerts")
app.add_typer(audit.app, name="audit")
app.add_typer(notifications.app, name="notifications")
app.add_typer(db.app, name="db")
app.command("serve")(serve.serve)


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
        db=db, config=config, actor_flag=actor, quiet=quiet, verbose=verbose, no_color=no_color
    )
    runtime.configure_logging()
    if no_color:
        from pjobs.cli.output import disable_color

        disable_color()
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


def main() -> None:
    """The console script: expected errors are one line and an exit code, no traceback."""
    try:
        app(prog_name="pjobs")
    except PjobsError as exc:
        error(redact(str(exc)))
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        sys.stderr.write("pjobs: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:
        if "-vv" in sys.argv or "--verbose" in sys.argv:
            raise
        error(
            f"unexpected error: {type(exc).__name__}: {redact(str(exc))} (run with -vv for details)"
        )
        sys.exit(int(ExitCode.FAILURE))
