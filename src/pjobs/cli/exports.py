"""`pjobs export-backup`: back up one project (a job like any other), several or all of
them (one job each, with progress), or plan it (`--dry-run`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pjobs.cli.enforcement import ProjectsArgument
from pjobs.cli.jobrun import (
    RunOptions,
    enqueue_options,
    handler_command,
    prepare,
    run_and_report,
)
from pjobs.cli.runtime import Runtime, runtime
from pjobs.timeutil import seconds

RESULT_COLUMNS = ("project_id", "state", "backup_id", "size", "parts", "error")


def render_backup(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_fields

    print_fields(
        [(k, result[k]) for k in ("backup_id", "project_id", "format", "storage", "encrypted")]
        + [(k, result[k]) for k in ("size", "sha256", "parts", "tables", "rows")]
        + ([("pruned", ", ".join(result["pruned"]))] if result["pruned"] else [])
    )


@handler_command()
def export_backup(
    ctx: typer.Context,
    run: RunOptions,
    project_ids: ProjectsArgument = None,
    all_projects: Annotated[
        bool, typer.Option("--all", help="Every active and suspended project.")
    ] = False,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="sql (a plain dump, gzipped) or custom (pg_dump -Fc)."),
    ] = None,
    storage: Annotated[
        str | None, typer.Option("--storage", help="local or telegram (default: config).")
    ] = None,
    unencrypted: Annotated[
        bool,
        typer.Option("--unencrypted", help="Send to Telegram without a backup key, knowingly."),
    ] = False,
) -> None:
    """Back up tenant databases: dump, compress, encrypt (with a backup key), store, read
    back and check; print the backup id.

    Example: pjobs export-backup --all     (nightly: cron, or serve's schedule)
    """
    from pjobs.cli.enforcement import scope

    rt = runtime(ctx)
    scope(all_projects, project_ids)
    chosen: dict[str, Any] = {
        k: v for k, v in (("format", fmt), ("storage", storage)) if v is not None
    }
    if unencrypted:
        chosen["unencrypted"] = True
    if all_projects:
        with rt.control() as tx:
            names = tx.projects.backed_up()
    else:
        names = sorted(set(project_ids or []))
        for name in names:
            rt.project(name)
    if not all_projects and len(names) == 1 and not run.dry_run:
        payload = {"project_id": names[0], **chosen}
        run_and_report(rt, prepare(rt, "export_backup", payload, run), run, render_backup)
        return
    payloads = [{"project_id": name, **chosen} for name in names]
    if run.dry_run:
        plan(rt, payloads, chosen, run.as_json)
    elif run.enqueue and not run.wait:
        enqueue_all(rt, payloads, run)
    else:
        export_each(rt, payloads, run)


def plan(
    rt: Runtime, payloads: list[dict[str, Any]], chosen: dict[str, Any], as_json: bool
) -> None:
    """What a run would back up, and where to; its settings checked, nothing done."""
    from pjobs.backups.setup import backup_key, refuse_plain_remote
    from pjobs.cli.output import message, print_json, print_lines

    settings = rt.settings()
    for payload in payloads:
        prepare(rt, "export_backup", payload)
    where = chosen.get("storage", settings.backups.storage)
    rt.app().integrations.backup_storage(where)
    key = backup_key(settings)
    refuse_plain_remote(settings, where, key, bool(chosen.get("unencrypted")))
    encrypted = key is not None
    projects = [p["project_id"] for p in payloads]
    sealed = "encrypted" if encrypted else "NOT encrypted"
    message(
        f"dry run: would back up {len(projects)} project(s) to {where}, {sealed}; nothing is "
        "changed",
        rt.quiet,
    )
    if as_json:
        print_json(
            {"dry_run": True, "projects": projects, "storage": where, "encrypted": encrypted}
        )
    else:
        print_lines(projects)


def enqueue_all(rt: Runtime, payloads: list[dict[str, Any]], run: RunOptions) -> None:
    from pjobs.cli.output import message, print_json, print_lines

    queued = rt.app().queue.enqueue_many(
        [("export_backup", p) for p in payloads], enqueue_options(rt, run, key=False)
    )
    if run.as_json:
        print_json({"jobs": [q.id for q in queued]})
    else:
        print_lines([q.id for q in queued])
    message(f"enqueued {len(queued)} export_backup job(s)", rt.quiet)


def export_each(rt: Runtime, payloads: list[dict[str, Any]], run: RunOptions) -> None:
    """One backup after another (inline), or all enqueued and then waited for; progress on
    stderr; a table (or JSON) of how each ended; exit 1 if any failed."""
    from pjobs.cli.output import print_records
    from pjobs.cli.progress import Progress

    queue = rt.app().queue
    queued = (
        []
        if not run.enqueue
        else queue.enqueue_many(
            [("export_backup", p) for p in payloads], enqueue_options(rt, run, key=False)
        )
    )
    results = []
    with Progress(len(payloads), "backing up", rt.quiet) as progress:
        for index, payload in enumerate(payloads):
            if run.enqueue:
                job = queue.wait(queued[index].id, seconds(run.timeout))
            else:
                job = queue.run_inline(
                    "export_backup", payload, enqueue_options(rt, run, key=False)
                )
            done = job.result if job.state == "succeeded" and job.result else {}
            row = {"project_id": payload["project_id"], "state": job.state, "job_id": job.id}
            row |= {k: done.get(k) for k in ("backup_id", "size", "parts")}
            row["error"] = None if job.state == "succeeded" else job.last_error
            results.append(row)
            progress.advance(f"{row['project_id']}: {job.state}")
    print_records("backups", results, RESULT_COLUMNS, run.as_json)
    failed = sum(r["state"] != "succeeded" for r in results)
    if failed:
        from pjobs.errors import CommandFailed

        raise CommandFailed(f"{failed} of {len(results)} backups failed")
