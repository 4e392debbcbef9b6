"""`pjobs backups …`: list, show, verify, restore, prune (`export-backup` makes them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli.jobrun import RunOptions, prepare, run_and_report
from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import (
    DryRunOption,
    JsonOption,
    OptionalProjectArgument,
    YesOption,
    duration_option,
)
from pjobs.cli.prompts import confirm
from pjobs.cli.runtime import Runtime, runtime

if TYPE_CHECKING:
    from pjobs.control.backups import Backup

app = typer.Typer(help="Backups: list, show, verify, restore, prune.", no_args_is_help=True)
BackupArgument = Annotated[str, typer.Argument(metavar="BACKUP_ID")]
BACKUP_COLUMNS = Columns(
    ("id", ("project", "project_id"), "state", "size", ("created", "created_at"), "error"),
    keep=("state",),
    wide=("format", "storage", "encrypted", "finished_at", "job_id"),
)


def backup_of(rt: Runtime, backup_id: str) -> Backup:
    """The backup, or InvalidInputError (65) / NotFoundError (4)."""
    from pjobs import ids
    from pjobs.errors import found

    ids.BACKUP_ID.check(backup_id)
    with rt.control() as tx:
        return found(tx.backups.get(backup_id), "backup", backup_id)


@app.command("list")
@list_options(1000)
def list_backups(
    ctx: typer.Context,
    view: ListView,
    project_id: OptionalProjectArgument = None,
    state: Annotated[
        str | None, typer.Option("--state", help="running, completed, failed or pruned.")
    ] = None,
) -> None:
    """Backups, newest first.

    Example: pjobs backups list proj-123 --state completed
    """
    from pjobs import ids
    from pjobs.errors import InvalidInputError

    if project_id is not None:
        ids.PROJECT_ID.check(project_id)
    if state not in (None, "running", "completed", "failed", "pruned"):
        raise InvalidInputError(f"invalid state {state[:40]!r}: running, completed, failed, pruned")
    rt = runtime(ctx)
    page = rt.reader(lambda tx: tx.backups.list(project_id, state, view.limit, view.offset))
    print_listing(view, "backups", page, BACKUP_COLUMNS)


@app.command("show")
def show(ctx: typer.Context, backup_id: BackupArgument, as_json: JsonOption = False) -> None:
    """One backup: where it is stored, its checksums and its manifest's tables.

    Example: pjobs backups show bk_20261129T030000Z_0a1b2c
    """
    from dataclasses import asdict

    from pjobs.cli.output import print_fields, print_json, print_records

    backup = backup_of(runtime(ctx), backup_id)
    if as_json:
        print_json(backup)
        return
    shown = asdict(backup)
    manifest = shown.pop("manifest") or {}
    locations = shown.pop("locations") or {}
    shown["parts"] = len(locations.get("parts", []))
    shown["content_sha256"] = manifest.get("content", {}).get("sha256")
    print_fields(list(shown.items()))
    if manifest.get("tables"):
        print_records("tables", manifest["tables"], ("name", "rows"), False)


@app.command("verify")
def verify(ctx: typer.Context, backup_id: BackupArgument, as_json: JsonOption = False) -> None:
    """Read a backup back from its storage: every part against its checksum, the manifest
    against the recorded one, the dump opened when it can be. Exit 65 naming what fails.

    Example: pjobs backups verify bk_20261129T030000Z_0a1b2c
    """
    from pjobs.backups import operations
    from pjobs.backups.stream import CorruptBackup
    from pjobs.cli.output import print_fields, print_json

    rt = runtime(ctx)
    backup = backup_of(rt, backup_id)
    try:
        checked = operations.verify(rt.app().integrations, rt.settings(), backup)
    except CorruptBackup as exc:
        raise CorruptBackup(f"backup {backup.id} is damaged: {exc}") from None
    if as_json:
        print_json({"verified": True, **checked})
    else:
        print_fields([("verified", "yes"), *checked.items()])


@app.command("restore")
def restore(
    ctx: typer.Context,
    backup_id: BackupArgument,
    into: Annotated[
        str | None, typer.Option("--into", metavar="PROJECT_ID", help="A project's database.")
    ] = None,
    into_database: Annotated[
        str | None,
        typer.Option("--into-database", metavar="URL", help="sqlite:///PATH or postgresql://…"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace what a non-empty database holds.")
    ] = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into a new or empty database, all or nothing (checksums checked as
    it is read; a damaged backup changes nothing).

    Example: pjobs backups restore bk_20261129T030000Z_3fa2c1 --into proj-123-copy
    """
    from pjobs.errors import UsageError

    rt = runtime(ctx)
    if (into is None) == (into_database is None):
        raise UsageError("give --into PROJECT_ID or --into-database URL (one of them)")
    backup = backup_of(rt, backup_id)
    target = into or "the database"
    # a backup of another project: said wherever the restore is (prompt, output, audit)
    whose = "" if backup.project_id == into else f" (a backup of {backup.project_id})"
    if into is not None:
        rt.project(into)
    if dry_run:
        from pjobs.cli.output import message, print_json

        replacing = ", replacing what it holds" if force else " (refused if it is not empty)"
        message(f"dry run: would restore {backup.id}{whose} into {target}{replacing}", rt.quiet)
        if as_json:
            tables = (backup.manifest or {}).get("tables", [])
            print_json(
                {
                    "dry_run": True,
                    "backup_id": backup.id,
                    "into": target,
                    "force": force,
                    "tables": tables,
                }
            )
        return
    if force:
        from pjobs.cli.prompts import confirm

        confirm(rt, f"Replace what {target} holds with backup {backup.id}{whose}?", yes)
    if into is not None:
        payload = {"backup_id": backup.id, "project_id": into, "force": force}
        run_and_report(
            rt,
            prepare(rt, "restore_backup", payload, RunOptions(as_json=as_json)),
            RunOptions(as_json=as_json),
            render_restore,
        )
        return
    assert into_database is not None
    restore_into_database(rt, backup, into_database, force, as_json)


def restore_into_database(rt: Runtime, backup: Backup, url: str, force: bool, json: bool) -> None:
    from pjobs.backups import operations
    from pjobs.backups.stream import CorruptBackup
    from pjobs.cli.output import print_json
    from pjobs.settings.dburl import parse_database_url

    target = parse_database_url(url)
    try:
        result = operations.restore(rt.app().integrations, rt.settings(), backup, target, force)
    except CorruptBackup as exc:
        raise CorruptBackup(f"backup {backup.id} is damaged: {exc}; nothing was restored") from None
    with rt.control(write=True) as tx:
        data = {k: result[k] for k in ("into", "tables", "rows", "differ")}
        tx.audit.append(rt.actor(), "backup.restored", backup.project_id, backup.id, data)
    if json:
        print_json(result)
    else:
        render_restore(result)


def render_restore(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_lines

    of = result.get("backup_of")
    whose = f" (a backup of {of})" if of and of != result.get("project_id") else ""
    print_lines(
        [
            f"restored {result['backup_id']}{whose} into {result['into']}: "
            f"{result['tables']} tables, {result['rows']:,} rows"
        ]
    )
    if result["differ"]:
        from pjobs.errors import CommandFailed

        differ = ", ".join(result["differ"])
        raise CommandFailed(f"row counts differ from the manifest in: {differ}")


@app.command("prune")
def prune(
    ctx: typer.Context,
    project_id: OptionalProjectArgument = None,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="Completed backups kept a project.")
    ] = None,
    older_than: Annotated[
        str | None,
        duration_option("--older-than", "Prune those older than this: 30d."),
    ] = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Remove old backups from storage (default: the retention settings); a project's
    newest completed backup always stays. The count is said, and confirmed on a terminal,
    before anything is removed.

    Example: pjobs backups prune --keep 7 --dry-run
    """
    from datetime import timedelta

    from pjobs.backups import retention
    from pjobs.cli.output import message, print_json, print_lines
    from pjobs.control import ControlPlane
    from pjobs.errors import UsageError
    from pjobs.timeutil import parse_duration

    rt = runtime(ctx)
    cfg = rt.settings().backups
    if project_id is not None:
        rt.project(project_id)
    age = parse_duration(older_than) if older_than else None
    if keep is None and age is None:
        keep = cfg.keep
        age = None if cfg.max_age_days is None else timedelta(days=cfg.max_age_days)
    if keep is None and age is None:
        raise UsageError("give --keep or --older-than (or set backups.keep / max_age_days)")
    now = rt.app().clock.now()
    with rt.control() as tx:
        chosen = retention.expired(tx.backups.list(project_id, "completed", 10**9), keep, age, now)
    if not dry_run and chosen:
        confirm(rt, f"Remove {len(chosen)} backup(s) from storage?", yes)
        control = ControlPlane(rt.app().store)
        retention.prune(control, rt.app().integrations, rt.settings(), chosen, now)
    pruned = [b.id for b in chosen]
    verb = "would prune" if dry_run else "pruned"
    message(f"{'dry run: ' if dry_run else ''}{verb} {len(pruned)} backup(s)", rt.quiet)
    if as_json:
        print_json({"dry_run": dry_run, "pruned": pruned})
    else:
        print_lines(pruned)
