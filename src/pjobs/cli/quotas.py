"""`pjobs quotas …`: the limits usage is judged against — each plan's (config) and a
project's own (set, unset) — and how a project's usage stands against them."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli.listing import Columns, ListView, list_options, print_listing
from pjobs.cli.options import (
    DryRunOption,
    JsonOption,
    ProjectArgument,
    ProjectFilterOption,
)
from pjobs.cli.runtime import runtime

if TYPE_CHECKING:
    from pjobs.control import ControlTx
from pjobs.cli.usage import project_for, show

app = typer.Typer(
    help="Quotas: each plan's limits (config) and a project's own (set, unset).",
    no_args_is_help=True,
)


@app.command("show")
def show_quotas(
    ctx: typer.Context, project_id: ProjectArgument, as_json: JsonOption = False
) -> None:
    """A project's quotas (its plan's and its own), with this period's usage.

    Example: pjobs quotas show proj-123
    """
    show(ctx, project_id, None, as_json)


@app.command("set", context_settings={"ignore_unknown_options": True})
def set_quota(
    ctx: typer.Context,
    project_id: ProjectArgument,
    metric: Annotated[str, typer.Argument(metavar="METRIC")],
    limit: Annotated[str, typer.Argument(metavar="LIMIT", help="A number ≥ 0.")],
    hard: Annotated[
        bool | None, typer.Option("--hard/--soft", help="Suspend at 100 % / only warn.")
    ] = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Give a project its own limit for a metric (instead of its plan's).

    Example: pjobs quotas set proj-123 requests 5000000 --hard
    """
    change_quota(ctx, project_id, metric, limit, hard, dry_run, as_json)


@app.command("unset")
def unset_quota(
    ctx: typer.Context,
    project_id: ProjectArgument,
    metric: Annotated[str, typer.Argument(metavar="METRIC")],
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Drop a project's own limit for a metric: its plan's applies again.

    Example: pjobs quotas unset proj-123 requests
    """
    change_quota(ctx, project_id, metric, None, None, dry_run, as_json)


def change_quota(
    ctx: typer.Context,
    project_id: str,
    metric: str,
    limit: str | None,
    hard: bool | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    from pjobs.cli.output import message, print_json
    from pjobs.control import ControlPlane
    from pjobs.domain.usage import metric_is_gauge, usage_value
    from pjobs.errors import InvalidInputError

    rt = runtime(ctx)
    metric_is_gauge(rt.settings(), metric)
    number: float | None = None
    if limit is not None:
        try:
            number = usage_value(float(limit), "limit")
        except ValueError:
            raise InvalidInputError(f"invalid limit {limit[:40]!r}: not a number") from None
    project_for(rt, project_id)
    now = rt.app().clock.now()
    control = ControlPlane(rt.app().store)
    with control.rehearsal(now) if dry_run else control.tx(now) as tx:
        data: dict[str, Any] = {"metric": metric}
        if number is None:
            changed = tx.quotas.unset_override(project_id, metric)
            action = "quota.override_unset"
        else:
            old = {o.metric: o for o in tx.quotas.overrides(project_id)}.get(metric)
            strict = hard if hard is not None else (old.hard if old else False)
            tx.quotas.set_override(project_id, metric, number, strict)
            changed, action = True, "quota.override_set"
            data |= {"limit": number, "hard": strict}
        if changed:
            tx.audit.append(rt.actor(), action, project_id, f"quota:{metric}", data)
    verb = "would " if dry_run else ""
    message(f"{verb}{'change' if changed else 'leave'} {project_id}'s {metric} quota", rt.quiet)
    if as_json:
        print_json({"project_id": project_id, "changed": changed, "dry_run": dry_run, **data})


CHECK_COLUMNS = Columns(
    ("id", "at", "actor", "period", "scope", "checked", "warned", "suspended"),
    keep=("suspended",),
    wide=("enforced", "protected", "job_id"),
)


@app.command("checks")
@list_options(100)
def list_checks(
    ctx: typer.Context,
    view: ListView,
    project: ProjectFilterOption = None,
) -> None:
    """Quota checks, newest first (the seed's `recordQuotaCheck`): who ran each, its scope,
    how many projects it checked, warned and suspended; with --project, the checks that
    found that project, and what they found.

    Example: pjobs quotas checks --project proj-123
    """
    rt = runtime(ctx)
    project_id = rt.project_filter(project)

    def page(tx: ControlTx) -> list[dict[str, Any]]:
        if project_id is None:
            return [asdict(check) for check in tx.quotas.checks(view.limit, view.offset)]
        # the checks that found the project, with only its findings (read from the
        # latest ten thousand checks)
        return [
            {**asdict(c), "findings": [f for f in c.findings if f["project_id"] == project_id]}
            for c in tx.quotas.checks(10_000)
            if any(f["project_id"] == project_id for f in c.findings)
        ][view.offset : view.offset + view.limit]

    print_listing(view, "checks", rt.reader(page), CHECK_COLUMNS)
