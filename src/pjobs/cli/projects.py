"""`pjobs projects …` and `pjobs owners …`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from pjobs.cli.options import DryRunOption, JsonOption, LimitOption, ProjectArgument
from pjobs.cli.runtime import runtime

app = typer.Typer(help="Tenants' projects: list, show, protect, unprotect.", no_args_is_help=True)
owners_app = typer.Typer(help="Project owners and their contact details.", no_args_is_help=True)

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


@owners_app.command("set")
def set_owner(
    ctx: typer.Context,
    owner_id: Annotated[str, typer.Argument(metavar="OWNER_ID")],
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    telegram_chat_id: Annotated[
        str | None, typer.Option(help="Telegram chat id for notifications.")
    ] = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Create an owner or update their contact details.

    Example: pjobs owners set user-42 --email ops@example.com --telegram-chat-id 123456
    """
    from pjobs import ids

    ids.OWNER_ID.check(owner_id)
    if telegram_chat_id is not None:
        ids.TELEGRAM_CHAT_ID.check(telegram_chat_id)
    if email is not None:
        ids.EMAIL.check(email)
    rt = runtime(ctx)
    if dry_run:
        import dataclasses

        from pjobs.cli.output import message
        from pjobs.control.owners import Owner

        with rt.control() as tx:
            known = tx.owners.get(owner_id)
        now = rt.clock().now()
        base = known or Owner(owner_id, None, None, now)
        planned = dataclasses.replace(
            base,
            email=email or base.email,
            telegram_chat_id=telegram_chat_id or base.telegram_chat_id,
        )
        verb = "update" if known else "create"
        message(f"dry run: would {verb} owner {owner_id}; nothing is changed", rt.quiet)
        show_owner(planned, as_json)
        return
    with rt.control(write=True) as tx:
        tx.owners.update(owner_id, email, telegram_chat_id)
        tx.audit.append(
            rt.actor(),
            "owner.updated",
            None,
            f"owner:{owner_id}",
            {"email": email, "telegram_chat_id": telegram_chat_id},
        )
        owner = tx.owners.get(owner_id)
    if owner is not None:
        show_owner(owner, as_json)


def show_owner(owner: Any, as_json: bool) -> None:
    from pjobs.cli.output import print_fields, print_json

    if as_json:
        print_json(owner)
    else:
        print_fields(
            [
                ("owner", owner.id),
                ("email", owner.email),
                ("telegram_chat_id", owner.telegram_chat_id),
            ]
        )


@owners_app.command("list")
def list_owners(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List owners.

    Example: pjobs owners list --json
    """
    from pjobs.cli.output import print_records

    rt = runtime(ctx)
    with rt.control() as tx:
        owners = tx.owners.list()
    print_records(
        "owners", owners, (("owner", "id"), "email", "telegram_chat_id", "created_at"), as_json
    )


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
