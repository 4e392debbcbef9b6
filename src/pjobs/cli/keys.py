"""`pjobs keys …`: API keys (never their secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import DryRunOption, JsonOption, ProjectArgument
from pjobs.cli.runtime import runtime
from pjobs.errors import KeyVerdict as VerifyExit

if TYPE_CHECKING:
    from pjobs.control import ControlTx

KEY_COLUMNS = (("key", "id"), "kind", "version", "prefix", "status", "expires_at")

app = typer.Typer(
    help="API keys: list, verify, expire. Secrets are never stored nor shown here.",
    no_args_is_help=True,
)


@app.command("list")
@list_options(1000)
def list_keys(ctx: typer.Context, view: ListView, project_id: ProjectArgument) -> None:
    """A project's keys: id, kind, version, prefix, status, expiry.

    Example: pjobs keys list proj-123
    """
    from dataclasses import asdict

    from pjobs.domain.apikeys import status_now

    rt = runtime(ctx)
    rt.project(project_id)

    def page(tx: ControlTx) -> list[dict[str, Any]]:
        # the status `keys verify` would give now: an expiring key past its grace is expired
        keys = tx.keys.list(project_id)[view.offset : view.offset + view.limit]
        return [{**asdict(key), "status": status_now(key, tx.now)} for key in keys]

    columns = Columns(KEY_COLUMNS, keep=("status",), wide=("replaced_by", "created_at"))
    print_listing(view, "keys", rt.reader(page), columns)


@app.command("verify", context_settings={"allow_extra_args": True})
def verify(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check a key read from stdin (never from a flag: flags end up in shell history).

    Exit codes: 0 valid, 10 expiring (valid during its grace), 11 expired, 12 revoked,
    13 its project is not active (e.g. suspended), 4 unknown, 65 malformed or bad checksum.

    Example: pjobs keys verify < key.txt
    """
    import sys

    from pjobs.cli.output import print_json, print_lines
    from pjobs.domain import apikeys
    from pjobs.errors import UsageError

    if ctx.args:  # never echoed: it may be a secret key, already in the shell's history
        raise UsageError(
            "keys verify reads the key from stdin, not from its arguments (they show in `ps` "
            "and shell history): `pjobs keys verify < key.txt`"
        )
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("pipe the key to stdin, e.g. `pjobs keys verify < key.txt`")
    text = sys.stdin.read(4096).strip()
    rt = runtime(ctx)
    result = apikeys.verify(rt.app().queue.store, text, rt.app().clock.now())
    if as_json:
        key = result.key
        print_json(
            {
                "verdict": result.verdict,
                "message": result.message,
                "key_id": key.id if key else None,
                "project_id": key.project_id if key else None,
                "kind": key.kind if key else None,
                "expires_at": key.expires_at if key else None,
            }
        )
    else:
        print_lines([f"{result.verdict}: {result.message}"])
    raise typer.Exit(int(VerifyExit[result.verdict.upper()]))


@app.command("expire")
def expire(ctx: typer.Context, dry_run: DryRunOption = False, as_json: JsonOption = False) -> None:
    """Mark keys whose grace period has ended `expired` (also run by `pjobs serve`).

    Example: pjobs keys expire --dry-run
    """
    from pjobs.cli.output import print_json, print_lines
    from pjobs.handlers.rotate_key import expire_keys

    rt = runtime(ctx)
    if dry_run:
        with rt.control() as tx:
            due = [(k.id, k.project_id) for k in tx.keys.due_to_expire()]
    else:
        due = expire_keys(rt.app().queue.store, rt.app().clock, rt.actor())
    if as_json:
        print_json({"dry_run": dry_run, "keys": [{"id": k, "project_id": p} for k, p in due]})
    else:
        verb = "would expire" if dry_run else "expired"
        print_lines(
            [f"{verb} {key_id} ({project_id})" for key_id, project_id in due] or [f"{verb} no key"]
        )
