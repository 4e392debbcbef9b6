"""`pjobs db …`: the schema of the control database."""

from __future__ import annotations

import typer

from pjobs.cli.options import DryRunOption, JsonOption
from pjobs.cli.runtime import runtime

app = typer.Typer(
    help="The control database: upgrade its schema, show its status.", no_args_is_help=True
)


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the database, its schema version and pending migrations.

    Example: pjobs db status --json
    """
    from pjobs.cli.output import print_fields, print_json
    from pjobs.settings.dburl import database_url

    rt = runtime(ctx)
    url = database_url(rt.settings())
    result = rt.app(check_schema=False, create_database=False).store.schema_status()
    data = {
        "database": url.redacted(),
        "dialect": url.dialect,
        "version": result.current,
        "latest": result.latest,
        "pending": [f"{m.version:04d}_{m.name}" for m in result.pending],
        "current": not result.pending,
    }
    if as_json:
        print_json(data)
    else:
        print_fields(list(data.items()))


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Apply pending schema migrations (safe to run from several machines at once).

    Example: pjobs db upgrade --dry-run
    """
    from pjobs.cli.output import print_json, print_lines

    rt = runtime(ctx)
    store = rt.app(check_schema=False, create_database=not dry_run).store
    if dry_run:
        applied = list(store.schema_status().pending)
    else:
        app = rt.app()
        applied = store.upgrade(app.clock.now())
        app.registry.record(store, app.clock.now())  # for pjobs_enqueue
    names = [f"{m.version:04d}_{m.name}" for m in applied]
    if as_json:
        print_json({"applied" if not dry_run else "would_apply": names, "dry_run": dry_run})
    elif names:
        print_lines([f"{'would apply' if dry_run else 'applied'} {name}" for name in names])
    else:
        print_lines(["schema is current"])
