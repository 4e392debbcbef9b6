"""`pjobs projects …`: tenants' projects — list, show, protect, unprotect."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pjobs.cli.options import DryRunOption, JsonOption, LimitOption, ProjectArgument
from pjobs.cli.runtime import runtime

app = typer.Typer(help="Tenants' projects: list, show, protect, unprotect.", no_args_is_help=True)

PROJECT_COLUMNS = (
    "id",
    "name",
    ("owner", "owner_id"),
    "region",
    "plan",
    "status",
    "suspension_reason",
)


class StatusChoice(StrEnum):
    provisioning = "provisioning"
    active = "active"
    suspended = "suspended"
    failed = "failed"
    deprovisioned = "deprovisioned"


@app.command("list")
def list_projects(
    ctx: typer.Context,
    status: Annotated[StatusChoice | None, typer.Option(help="Only this status.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None,
    limit: LimitOption = 1000,
    as_json: JsonOption = False,
) -> None:
    """List projects by id.

    Example: pjobs projects list --status suspended
    """
    from pjobs.cli.output import print_records

    rt = runtime(ctx)
    with rt.control() as tx:
        projects = tx.projects.list(status.value if status else None, owner, limit)
    print_records("projects", projects, PROJECT_COLUMNS, as_json)


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
    from pjobs.cli.output import print_fields, print_json, print_records, to_jsonable

    rt = runtime(ctx)
    project = rt.project(project_id)
    with rt.control() as tx:
        steps = list(tx.projects.steps(project_id).values())
        keys = tx.keys.list(project_id)
    if as_json:
        print_json({**to_jsonable(project), "steps": steps, "keys": keys})
        return
    print_fields(list(to_jsonable(project).items()))
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
