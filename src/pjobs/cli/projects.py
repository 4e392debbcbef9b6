"""`pjobs projects …`: tenants' projects — list, show, protect, unprotect."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from pjobs.cli.listing import Columns, LimitOption, ListView, list_options, print_listing
from pjobs.cli.options import DryRunOption, JsonOption, ProjectArgument, SinceOption
from pjobs.cli.runtime import runtime

app = typer.Typer(
    help="Tenants' projects: list, show, describe, timeline, protect, unprotect.",
    no_args_is_help=True,
)

PROJECT_COLUMNS = Columns(
    ("id", "name", ("owner", "owner_id"), "plan", "status", "suspension_reason"),
    keep=("status",),
    wide=("region", "protected", "created_at", "tenant_database"),
)


class StatusChoice(StrEnum):
    provisioning = "provisioning"
    active = "active"
    suspended = "suspended"
    failed = "failed"
    deprovisioned = "deprovisioned"


@app.command("list")
@list_options(1000)
def list_projects(
    ctx: typer.Context,
    view: ListView,
    status: Annotated[StatusChoice | None, typer.Option(help="Only this status.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None,
) -> None:
    """List projects, newest first.

    Example: pjobs projects list --status suspended
    """
    rt = runtime(ctx)
    wanted = status.value if status else None
    page = rt.reader(lambda tx: tx.projects.list(wanted, owner, view.limit, view.offset))
    print_listing(view, "projects", page, PROJECT_COLUMNS)


@app.command("show")
def show_project(
    ctx: typer.Context,
    project_id: ProjectArgument,
    as_json: JsonOption = False,
) -> None:
    """Show a project, its provisioning steps and its API keys.

    Example: pjobs projects show proj-123
    """
    from pjobs.cli.keys import KEY_COLUMNS
    from pjobs.cli.output import fields_of, print_fields, print_json, print_records
    from pjobs.shown import to_jsonable

    rt = runtime(ctx)
    project = rt.project(project_id)
    with rt.control() as tx:
        steps = list(tx.projects.steps(project_id).values())
        keys = tx.keys.list(project_id)
    if as_json:
        print_json({**to_jsonable(project), "steps": steps, "keys": keys})
        return
    print_fields(fields_of(project))
    print_records("steps", steps, ("step", "outcome", "completed_at", "detail"), False)
    print_records("keys", keys, KEY_COLUMNS, False)


def protection_command(verb: str, protected: bool, summary: str) -> None:
    """Register `projects protect` or `projects unprotect`."""

    def change(
        ctx: typer.Context,
        project_id: ProjectArgument,
        dry_run: DryRunOption = False,
        as_json: JsonOption = False,
    ) -> None:
        from pjobs.cli.output import report_switch

        rt = runtime(ctx)
        changed = rt.project(project_id).protected != protected
        if changed and not dry_run:
            with rt.control(write=True) as tx:
                tx.projects.set_protected(project_id, protected)
                tx.audit.append(rt.actor(), f"project.{verb}ed", project_id)
        data = {"project_id": project_id, "protected": protected} if as_json else None
        state = "protected" if protected else "not protected"
        report_switch(f"project {project_id}", state, changed, dry_run, rt.quiet, data)

    change.__doc__ = f"{summary}\n\nExample: pjobs projects {verb} proj-123"
    app.command(verb)(change)


protection_command(
    "protect", True, "Protect a project: never suspended automatically, only reported."
)
protection_command("unprotect", False, "Lift a project's protection.")


@app.command("describe")
def describe_project(
    ctx: typer.Context, project_id: ProjectArgument, as_json: JsonOption = False
) -> None:
    """Everything about one project: its status and why (who asked, the alert or check
    behind it, the figures), quota use this period (thresholds already warned), request
    and error rates against its baseline, recent detections, alerts and audit events,
    keys, webhook endpoints and their health, backups, pending and failed jobs.

    Example: pjobs projects describe proj-123
    """
    from pjobs.cli.output import print_json
    from pjobs.domain.projects import describe

    rt = runtime(ctx)
    project = rt.project(project_id)
    with rt.control() as tx:
        page = describe(tx, rt.settings(), project, tx.now)
    if as_json:
        print_json(page)
        return
    render_description(page)


QUOTA_COLUMNS = ("metric", "value", "limit", "percent", "hard", "warned", "source")
SECTIONS = (
    ("detections", ("at", "pattern", "held", "action", "reason", "actor")),
    ("alerts", ("id", "received_at", "source", "name", "status", "pattern", "outcome")),
    ("audit", ("at", "actor", "action")),
    ("keys", ("id", "kind", "version", "status", "expires_at")),
    ("webhooks", ("id", "url", "enabled", "failures_in_a_row", "disabled_reason")),
)


def render_description(page: dict[str, Any]) -> None:
    """`projects describe` for a person: the project, why it is suspended, its quotas and
    rates, then each section that has something to show."""
    from pjobs.cli.output import print_fields, print_lines, print_records

    shown = page["project"]
    print_fields([(k, shown[k]) for k in ("id", "name", "owner", "plan", "region", "status")])
    if shown["protected"]:
        print_lines(["protected: never suspended automatically, only reported"])
    suspension = page["suspension"]
    if suspension is not None:
        cause = suspension.get("alert")
        alert = f"{cause['id']} ({cause['source']} {cause['name']})" if cause else "-"
        print_lines(["", "why suspended"])
        print_fields(
            [(k, suspension.get(k)) for k in ("at", "by", "reason", "figures")]
            + [("alert", alert), ("lift it", f"pjobs resume {shown['id']}")]
        )
    print_lines(["", f"quotas ({page['quotas']['period']})"])
    print_records("quotas", page["quotas"]["metrics"], QUOTA_COLUMNS, False)
    rates = page["rates"]
    print_lines(["", f"rates (last {rates['window_seconds']:g} s)"])
    print_fields([(k, v) for k, v in rates.items() if k != "window_seconds"])
    page = {**page, "alerts": [{**a, "outcome": outcome(a)} for a in page["alerts"]]}
    for name, columns in SECTIONS:
        if page[name]:
            print_lines(["", name])
            print_records(name, page[name], columns, False)
    backups = page["backups"]
    latest = backups["latest_completed"]
    print_lines(["", "backups"])
    failed = ", ".join(backups["failed"]) or "-"
    latest_id = latest and latest["id"]
    print_fields([("count", backups["count"]), ("latest completed", latest_id), ("failed", failed)])
    jobs = page["jobs"]["pending"] + [{**j, "state": "failed"} for j in page["jobs"]["failed"]]
    if jobs:
        print_lines(["", "jobs"])
        print_records("jobs", jobs, ("id", "type", "state", "error"), False)


def outcome(alert: dict[str, Any]) -> str:
    """An alert's outcome in a word or two: the evaluation's action, else the receiver's."""
    found = alert["outcome"]
    return str(found.get("action") or found.get("receiver"))


@app.command("timeline")
def project_timeline(
    ctx: typer.Context,
    project_id: ProjectArgument,
    since: SinceOption = None,
    limit: LimitOption = 1000,
    as_json: JsonOption = False,
) -> None:
    """Every kind of event of one project in time order: lifecycle, keys, quota warnings,
    alerts, abuse evaluations, suspensions and resumes, webhooks, backups.

    Example: pjobs projects timeline proj-123 --since 7d
    """
    from pjobs.cli.output import print_records
    from pjobs.domain.projects import timeline

    rt = runtime(ctx)
    rt.project(project_id)
    start = rt.since(since)
    with rt.control() as tx:
        items = timeline(tx, project_id, start, limit)
    print_records("events", items, ("at", "kind", "what", "by", "job_id"), as_json, ("what",))
