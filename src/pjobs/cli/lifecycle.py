"""`pjobs provision`, `pjobs deprovision`, `pjobs rotate-key`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pjobs.cli import completion
from pjobs.cli.jobrun import RunOptions, handler_command, prepare, run_and_report
from pjobs.cli.options import KeyArgument, ProjectArgument, YesOption, duration_option
from pjobs.cli.runtime import Runtime, runtime
from pjobs.errors import InvalidStateError, UsageError, found


def render_project(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_fields, print_table

    print_fields(
        [
            ("project", result["project_id"]),
            ("status", result["status"]),
            ("tenant_database", result["tenant_database"]),
        ]
    )
    print_table(("step", "outcome"), list(result["steps"].items()))
    if result["keys"]:
        print_table(
            ("key", "kind", "version", "prefix", "status"),
            [(k["id"], k["kind"], k["version"], k["prefix"], k["status"]) for k in result["keys"]],
        )


def print_plan(rt: Runtime, title: str, steps: list[tuple[str, str]], as_json: bool) -> None:
    from pjobs.cli.output import message, print_json, print_table

    if as_json:
        print_json({"dry_run": True, "plan": [{"step": s, "action": a} for s, a in steps]})
        return
    message(f"dry run: {title}; nothing is changed", rt.quiet)
    print_table(("step", "would"), steps)


def lifecycle_plan(
    rt: Runtime, project_id: str, steps: tuple[str, ...], targets: dict[str, str]
) -> list[tuple[str, str]]:
    """What each step would do now: already done, or what it would touch."""
    with rt.control() as tx:
        done = tx.projects.steps(project_id)
    return [
        (step, f"nothing ({done[step].outcome} already)") if step in done else (step, targets[step])
        for step in steps
    ]


def service_targets(rt: Runtime, verb: str, prefix: str) -> dict[str, str]:
    from pjobs.adapters.services import SERVICES

    services = rt.app().integrations.services
    return {
        f"{prefix}{service}": (
            f"{verb} {services.url(service)}/projects/…"
            if services.configured(service)
            else f"skip (services.{service}.url is not set)"
        )
        for service in SERVICES
    }


@handler_command()
def provision(
    ctx: typer.Context,
    project_id: ProjectArgument,
    name: Annotated[str, typer.Option("--name", help="Project name.")],
    owner: Annotated[str, typer.Option("--owner", help="Owner id (created if new).")],
    run: RunOptions,
    region: Annotated[str | None, typer.Option(help="Region [default_region].")] = None,
    plan: Annotated[
        str | None,
        typer.Option(
            help="A plan of quotas.plans (built in: free, pro) [default_plan].",
            autocompletion=completion.plans,
        ),
    ] = None,
) -> None:
    """Provision a project: tenant database and schema, service registrations, API keys.

    Inline (the default) it prints the project and its two API keys, the only time their
    secrets are shown. Keys made by a worker (--enqueue) are never shown: issue ones you
    can see with `pjobs rotate-key KEY_ID --now`.

    Example: pjobs provision proj-123 --name Acme --owner user-42 --plan pro
    """
    from pjobs.domain.quotas import known_plan
    from pjobs.handlers import provision as handler
    from pjobs.tenant_schema import load_tenant_schema

    rt = runtime(ctx)
    settings = rt.settings()
    payload = {
        "project_id": project_id,
        "name": name,
        "owner_id": owner,
        "region": region or settings.default_region,
        "plan": known_plan(settings, plan or settings.default_plan),
    }
    if run.dry_run:
        prepare(rt, "provision_project", payload, run)
        tenants = rt.app().integrations.tenants
        targets = {
            "create_database": f"create {tenants.location(project_id)}",
            "apply_schema": f"apply the {load_tenant_schema(settings)[1]} tenant schema",
            **service_targets(rt, "PUT", "register_"),
            "generate_keys": "create a publishable and a secret API key",
            "activate": f"mark {project_id} active, audit, notify {owner}",
        }
        print_plan(
            rt,
            f"provision {project_id}",
            lifecycle_plan(rt, project_id, handler.STEPS, targets),
            run.as_json,
        )
        return
    job = prepare(rt, "provision_project", payload, run)
    with rt.control() as tx:
        existing = tx.projects.get(project_id)
    conflict = existing and handler.provision_conflict(
        existing, handler.ProvisionPayload.model_validate(payload)
    )
    if conflict:
        raise InvalidStateError(conflict)
    if run.enqueue:
        rt.note("keys made by a worker are never shown; see `pjobs provision --help`")
    run_and_report(rt, job, run, render_project)


@handler_command()
def deprovision(
    ctx: typer.Context,
    project_id: ProjectArgument,
    run: RunOptions,
    yes: YesOption = False,
    force: Annotated[bool, typer.Option("--force", help="A protected project too.")] = False,
) -> None:
    """Remove a project: unregister it, drop its tenant database, revoke its keys.

    Example: pjobs deprovision proj-123 --yes
    """
    from pjobs.cli.prompts import confirm
    from pjobs.handlers import deprovision as handler

    rt = runtime(ctx)
    payload = {"project_id": project_id, **({"force": True} if force else {})}
    job = prepare(rt, "deprovision_project", payload, run)
    project = rt.project(project_id)
    if run.dry_run:
        tenants = rt.app().integrations.tenants
        targets = {
            **service_targets(rt, "DELETE", "deprovision.unregister_"),
            "deprovision.drop_database": f"drop {tenants.location(project_id)}",
            "deprovision.revoke_keys": "revoke every active or expiring key",
            "deprovision.deactivate": f"mark {project_id} deprovisioned, audit, notify owner",
        }
        steps = lifecycle_plan(rt, project_id, handler.STEPS, targets)
        if project.status == "deprovisioned":
            steps = [(step, "nothing (already deprovisioned)") for step, _ in steps]
        print_plan(rt, f"deprovision {project_id}", steps, run.as_json)
        return
    if (refusal := handler.protected_refusal(project, force)) is not None:
        raise InvalidStateError(refusal)
    confirm(rt, f"Deprovision {project_id} ({project.name}) and drop its database?", yes)
    run_and_report(rt, job, run, render_project)


@handler_command(retries=False)
def rotate_key(
    ctx: typer.Context,
    key_id: KeyArgument,
    run: RunOptions,
    grace: Annotated[
        str | None,
        duration_option("--grace", "How long the old key stays valid [keys.rotation_grace]."),
    ] = None,
    now: Annotated[bool, typer.Option("--now", help="Revoke the old key at once.")] = False,
) -> None:
    """Rotate an API key: make its next version (secret shown once) and retire the old one.

    Example: pjobs rotate-key key_0123456789abcdef --grace 24h
    """
    from pjobs.domain.apikeys import new_key_id
    from pjobs.timeutil import format_duration, parse_duration

    rt = runtime(ctx)
    settings = rt.settings()
    if grace is not None and now:
        raise UsageError("--grace and --now contradict each other")
    seconds = (
        parse_duration(grace).total_seconds()
        if grace is not None
        else settings.keys.rotation_grace_seconds
    )
    payload = {
        "key_id": key_id,
        "grace_seconds": seconds,
        "revoke_now": now,
        "new_key_id": new_key_id(),
    }
    job = prepare(rt, "rotate_key", payload, run)
    with rt.control() as tx:
        key = found(tx.keys.get(key_id), "API key", key_id)
    if key.status != "active":
        replaced = f", replaced by {key.replaced_by}" if key.replaced_by else ""
        raise InvalidStateError(
            f"API key {key_id} is {key.status}{replaced}: only active keys rotate"
        )
    if run.dry_run:
        ending = "revoke it now" if now else f"mark it expiring for {format_duration(seconds)}"
        print_plan(
            rt,
            f"rotate {key_id}",
            [
                ("create", f"{key.kind} key version {key.version + 1} of {key.project_id}"),
                ("retire", f"{key_id} ({key.status}): {ending}"),
            ],
            run.as_json,
        )
        return
    if run.enqueue:
        rt.note("a key made by a worker is never shown; rotate inline to see it")
    run_and_report(rt, job, run, render_rotation)


def render_rotation(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_fields

    print_fields(list(result.items()))
