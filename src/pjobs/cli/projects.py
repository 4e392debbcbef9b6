"""`pjobs projects …` and `pjobs owners …`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pjobs.cli.options import JsonOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="Tenants' projects: list, show.", no_args_is_help=True)
owners_app = typer.Typer(help="Project owners and their contact details.", no_args_is_help=True)

PROJECT_COLUMNS = ("id", "name", "owner", "region", "plan", "status", "suspension_reason")


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
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 1000,
    as_json: JsonOption = False,
) -> None:
    """List projects by id."""
    from pjobs.cli.output import print_json, print_table

    rt = runtime(ctx)
    with rt.control() as tx:
        projects = tx.list_projects(status.value if status else None, owner, limit)
    if as_json:
        print_json({"projects": projects})
        return
    print_table(
        PROJECT_COLUMNS,
        [
            (p.id, p.name, p.owner_id, p.region, p.plan, p.status, p.suspension_reason)
            for p in projects
        ],
    )


@app.command("show")
def show_project(
    ctx: typer.Context,
    project_id: Annotated[str, typer.Argument(metavar="PROJECT_ID")],
    as_json: JsonOption = False,
) -> None:
    """Show a project, its provisioning steps and its API keys."""
    from pjobs.cli.output import print_fields, print_json, print_table, to_jsonable

    rt = runtime(ctx)
    project = rt.project(project_id)
    with rt.control() as tx:
        steps = list(tx.steps(project_id).values())
        keys = tx.list_keys(project_id)
    if as_json:
        print_json({**to_jsonable(project), "steps": steps, "keys": keys})
        return
    print_fields(list(to_jsonable(project).items()))
    print_table(
        ("step", "outcome", "completed_at", "detail"),
        [(s.step, s.outcome, s.completed_at, s.detail) for s in steps],
    )
    print_table(
        ("key", "kind", "version", "prefix", "status", "expires_at"),
        [(k.id, k.kind, k.version, k.prefix, k.status, k.expires_at) for k in keys],
    )


@owners_app.command("set")
def set_owner(
    ctx: typer.Context,
    owner_id: Annotated[str, typer.Argument(metavar="OWNER_ID")],
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    telegram_chat_id: Annotated[
        str | None, typer.Option(help="Telegram chat id for notifications.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an owner or update their contact details."""
    import getpass
    import re

    from pjobs.cli.output import print_fields, print_json
    from pjobs.errors import InvalidInputError
    from pjobs.handlers.lifecycle import OWNER_ID_PATTERN

    if not re.match(OWNER_ID_PATTERN, owner_id):
        raise InvalidInputError(f"invalid owner id {owner_id!r}")
    if telegram_chat_id is not None and not re.fullmatch(r"-?\d{1,20}|@\w{5,32}", telegram_chat_id):
        raise InvalidInputError("a Telegram chat id is a number (or @channelname)")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidInputError(f"invalid email address {email!r}")
    rt = runtime(ctx)
    with rt.control(write=True) as tx:
        tx.update_owner(owner_id, email, telegram_chat_id)
        tx.audit(
            f"operator:{getpass.getuser()}",
            "owner.updated",
            None,
            f"owner:{owner_id}",
            {"email": email, "telegram_chat_id": telegram_chat_id},
        )
        owner = tx.get_owner(owner_id)
    if as_json:
        print_json(owner)
    elif owner is not None:
        print_fields(
            [
                ("owner", owner.id),
                ("email", owner.email),
                ("telegram_chat_id", owner.telegram_chat_id),
            ]
        )


@owners_app.command("list")
def list_owners(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List owners."""
    from pjobs.cli.output import print_json, print_table

    rt = runtime(ctx)
    with rt.control() as tx:
        owners = tx.list_owners()
    if as_json:
        print_json({"owners": owners})
    else:
        print_table(
            ("owner", "email", "telegram_chat_id", "created_at"),
            [(o.id, o.email, o.telegram_chat_id, o.created_at) for o in owners],
        )
