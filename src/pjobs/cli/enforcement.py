"""`pjobs check-limits`, `pjobs scan-abuse`, `pjobs suspend`, `pjobs resume`: quotas and
abuse enforced, inline or through the queue; dry runs find without changing anything and
exit 3 when they found something."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pjobs.cli import completion
from pjobs.cli.jobrun import RunOptions, handler_command, prepare, run_and_report
from pjobs.cli.options import ProjectArgument, YesOption, duration_option
from pjobs.cli.runtime import Runtime, runtime
from pjobs.errors import ExitCode, InvalidStateError, UsageError

if TYPE_CHECKING:
    from pjobs.control.projects import Project

ProjectsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="PROJECT_ID",
        help="These projects (or --all).",
        show_default=False,
        autocompletion=completion.project_ids,
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every active project.")]
FINDING_COLUMNS = ("project_id", "metric", "value", "limit", "percent", "hard", "this_run")
ACTED = ("warned", "suspended", "reported", "warn", "suspend", "report")  # (would) do now


def scope(all_projects: bool, project_ids: list[str] | None) -> dict[str, Any]:
    if all_projects == bool(project_ids):
        raise UsageError("name projects, or give --all (one of them)")
    return {"all": True} if all_projects else {"project_ids": project_ids}


def exit_found(found: bool) -> None:
    """A dry run that found something exits 3, so scripts and auditors can tell."""
    if found:
        raise typer.Exit(int(ExitCode.FINDINGS))


def limits_renderer(quiet: bool, dry_run: bool) -> Callable[[dict[str, Any]], None]:
    """How a check's result is printed: a summary of what this run did (or would do) and
    every finding with it; with -q, nothing unless the run did (or would do) something."""

    def render(result: dict[str, Any]) -> None:
        from pjobs.cli.output import print_lines, print_records

        findings = result["findings"]
        doing = [f["this_run"].removeprefix("would ") for f in findings]
        if quiet and not any(d in ACTED for d in doing):
            return
        warned, suspended = doing.count("warned") + doing.count("warn"), doing.count("suspend")
        suspended += doing.count("suspended")
        reported = doing.count("reported") + doing.count("report")
        did = (
            f"a run now would warn {warned}, suspend {suspended}, report {reported} protected"
            if dry_run
            else f"this run warned {warned}, suspended {suspended}, reported {reported} protected"
        )
        print_lines(
            [
                f"period {result['period']}: checked {result['checked']}; {did}; "
                f"{result['already_warned']} already warned"
            ]
        )
        if findings:
            print_records("findings", findings, FINDING_COLUMNS, False)

    return render


@handler_command()
def check_limits(
    ctx: typer.Context,
    run: RunOptions,
    project_ids: ProjectsArgument = None,
    all_projects: AllOption = False,
    period: Annotated[
        str | None, typer.Option("--period", help="Billing period YYYY-MM (default: this month).")
    ] = None,
) -> None:
    """Check usage against quotas: warn at each threshold once, suspend at a hard cap.

    Example: pjobs check-limits --all      (hourly: cron, or serve's schedule)
    """
    from pjobs.domain import quotas
    from pjobs.handlers.check_usage_limits import finding_json

    rt = runtime(ctx)
    payload = {**scope(all_projects, project_ids), **({"period": period} if period else {})}
    job = prepare(rt, "check_usage_limits", payload, run)
    render = limits_renderer(rt.quiet, run.dry_run)
    if not run.dry_run:
        run_and_report(rt, job, run, render)
        return
    from pjobs.store.staging import period_of

    with rt.control() as tx:
        chosen = period or period_of(tx.now)
        ids = None if all_projects else sorted(set(project_ids or []))
        report = quotas.evaluate(tx, rt.settings(), chosen, ids)
    result = {**report.summary(), "findings": [finding_json(f, None) for f in report.findings]}
    show_dry_run(rt, run, result, render)
    exit_found(any(f.acts_now for f in report.findings))


def show_dry_run(rt: Runtime, run: RunOptions, result: dict[str, Any], render: Any) -> None:
    from pjobs.cli.output import message, print_json

    message("dry run: nothing is changed", rt.quiet)
    if run.as_json:
        print_json({"dry_run": True, **result})
    else:
        render(result)


def scan_renderer(quiet: bool) -> Callable[[dict[str, Any]], None]:
    """How a scan's result is printed; with -q, nothing unless it found something (which
    a real scan acts on)."""

    def render(result: dict[str, Any]) -> None:
        if not (quiet and not result["findings"]):
            render_scan(result)

    return render


def render_scan(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_lines, print_records

    window = result["window"]
    print_lines(
        [
            f"window {window['since']} to {window['until']}: {result['checked']} active "
            f"project(s) with requests, {len(result['findings'])} finding(s)"
        ]
    )
    if result["findings"]:
        print_records("findings", result["findings"], ("project_id", "pattern", "reason"), False)


@handler_command(retries=False)
def scan_abuse(
    ctx: typer.Context,
    run: RunOptions,
    project_ids: ProjectsArgument = None,
    all_projects: AllOption = False,
    window: Annotated[
        str | None,
        duration_option("--window", "Measure over this window [abuse.window]."),
    ] = None,
) -> None:
    """Compare projects' current request and error rates with their baselines; suspend
    (through `auto_suspend`) where excessive usage or an error spike holds.

    Example: pjobs scan-abuse --all --window 5m --dry-run
    """
    from pjobs.control import ControlPlane
    from pjobs.domain import abuse
    from pjobs.timeutil import parse_duration

    rt = runtime(ctx)
    payload = scope(all_projects, project_ids)
    if window:
        payload["window_seconds"] = parse_duration(window).total_seconds()
    job = prepare(rt, "scan_abuse", payload, run)
    if not run.dry_run:
        run_and_report(rt, job, run, scan_renderer(rt.quiet))
        return
    settings = rt.settings()
    ids = None if all_projects else sorted(set(project_ids or []))
    with ControlPlane(rt.app().store).rehearsal(rt.app().clock.now()) as tx:
        abuse.refresh_baselines(tx, settings, tx.now)
        report = abuse.scan(tx, settings, tx.now, ids, payload.get("window_seconds"))
    show_dry_run(rt, run, abuse.describe(report), scan_renderer(rt.quiet))
    exit_found(bool(report.findings))


def render_detection(result: dict[str, Any]) -> None:
    from pjobs.cli.output import print_fields

    print_fields(
        [(key, result[key]) for key in ("project_id", "pattern", "held", "action", "reason")]
    )


@handler_command(retries=False)
def suspend(
    ctx: typer.Context,
    project_id: ProjectArgument,
    run: RunOptions,
    pattern: Annotated[
        str | None,
        typer.Option(help="Evaluate: excessive_usage, error_spike or suspicious_pattern."),
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="K=V the evaluation takes as given.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (an operator's suspension).")] = None,
    force: Annotated[bool, typer.Option(help="Suspend a protected project too.")] = False,
) -> None:
    """Suspend a project: with --pattern only if the pattern holds; with just --reason,
    as an operator. Every evaluation is recorded. Its keys then exit 13 on verify.

    Example: pjobs suspend proj-123 --reason "phishing"
    """
    from pjobs.control import ControlPlane
    from pjobs.errors import UsageError
    from pjobs.handlers.auto_suspend import AutoSuspendPayload, judge

    if pattern is None and reason is None:
        raise UsageError(
            "give --reason WHY (an operator's suspension) or --pattern PATTERN (suspend only "
            "if it holds)"
        )
    rt = runtime(ctx)
    payload: dict[str, Any] = {"project_id": project_id, "force": force}
    payload |= {k: v for k, v in (("pattern", pattern), ("reason", reason)) if v is not None}
    payload["metrics"] = dict(parse_metric(text) for text in metric or [])
    job = prepare(rt, "auto_suspend", payload, run)
    project = rt.project(project_id)
    from pjobs.handlers.auto_suspend import protected_refusal

    if (refusal := protected_refusal(project, pattern, force)) is not None:
        raise InvalidStateError(refusal)
    if not run.dry_run:
        run_and_report(rt, job, run, render_detection)
        return
    with ControlPlane(rt.app().store).rehearsal(rt.app().clock.now()) as tx:
        model = AutoSuspendPayload.model_validate(payload)
        evaluation, action = judge(tx, tx.now, rt.settings(), model, project)
    result = {"project_id": project_id, "pattern": evaluation.pattern, "held": evaluation.held}
    result |= {"action": f"would: {action}", "reason": evaluation.reason}
    show_dry_run(rt, run, {**result, "metrics": evaluation.metrics}, render_detection)
    exit_found(evaluation.held)


def parse_metric(text: str) -> tuple[str, float]:
    from pjobs.errors import InvalidInputError

    name, _, raw = text.partition("=")
    try:
        return name, float(raw)
    except ValueError:
        raise InvalidInputError(f"invalid metric {text[:40]!r}: expected NAME=NUMBER") from None


@handler_command(retries=False)
def resume(
    ctx: typer.Context,
    project_id: ProjectArgument,
    run: RunOptions,
    reason: Annotated[str | None, typer.Option(help="Why it is lifted.")] = None,
    yes: YesOption = False,
) -> None:
    """Lift a project's suspension: it is active again and its keys verify. A project still
    over a hard cap is said so first (the next check-limits suspends it again): confirmed
    on a terminal, --yes without one.

    Example: pjobs resume proj-123 --reason "owner upgraded"
    """
    from pjobs.cli.lifecycle import print_plan
    from pjobs.cli.prompts import confirm

    rt = runtime(ctx)
    payload = {"project_id": project_id, **({"reason": reason} if reason else {})}
    job = prepare(rt, "resume_project", payload, run)
    project = rt.project(project_id)
    if run.dry_run:
        would = "lift the suspension" if project.status == "suspended" else "nothing"
        print_plan(
            rt, f"resume {project_id}", [("resume", f"{would} ({project.status})")], run.as_json
        )
        return
    if project.status != "suspended":
        rt.note(f"project {project_id} is {project.status}, not suspended: nothing to lift")
    over = over_hard_caps(rt, project)
    if over and project.status == "suspended":
        rt.note(
            f"{project_id} is still over its hard cap: {over}; the next check-limits suspends "
            f"it again. Raise the quota first: pjobs quotas set {project_id} METRIC LIMIT"
        )
        confirm(rt, f"Resume {project_id} all the same?", yes)
    before = project.status
    run_and_report(rt, job, run, lambda result: render_resumed(result, before, reason))


def over_hard_caps(rt: Runtime, project: Project) -> str:
    """The hard caps a project's usage this period is at or over ("" if none), in words."""
    from pjobs.domain.quotas import standing
    from pjobs.store.staging import period_of

    with rt.control() as tx:
        rows = standing(tx, rt.settings(), project, period_of(tx.now))
    return ", ".join(
        f"{r['metric']} {r['value']:,.0f} of {r['limit']:,.0f} ({r['percent']:g} %)"
        for r in rows
        if r["hard"] and r["percent"] is not None and r["percent"] >= 100
    )


def render_resumed(result: dict[str, Any], before: str, reason: str | None) -> None:
    """One line: `proj-123: suspended → active (reason)`."""
    from pjobs.cli.output import print_lines

    why = f" ({reason})" if reason else ""
    print_lines([f"{result['project_id']}: {before} → {result['status']}{why}"])
