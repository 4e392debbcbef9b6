"""`pjobs owners …`: project owners and how they are told (email, Telegram)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import DryRunOption, JsonOption
from pjobs.cli.runtime import runtime

app = typer.Typer(help="Project owners and their contact details.", no_args_is_help=True)


@app.command("set")
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

    Example: pjobs owners set user-42 --email ops@example.com
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
        now = rt.app().clock.now()
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


OWNER_COLUMNS = Columns((("owner", "id"), "email", "telegram_chat_id", "created_at"))


@app.command("list")
@list_options(1000)
def list_owners(ctx: typer.Context, view: ListView) -> None:
    """List owners, by id.

    Example: pjobs owners list --json
    """
    rt = runtime(ctx)
    page = rt.reader(lambda tx: tx.owners.list(view.limit, view.offset))
    print_listing(view, "owners", page, OWNER_COLUMNS)
