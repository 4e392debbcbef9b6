"""Abuse patterns and their evaluation: excessive usage (a request rate above N times the
project's baseline), error spike (errors above a share of requests, over a minimum
volume), suspicious pattern (raised by monitoring or an operator); and the scan of every
project's current window against its baseline in one query.

A baseline is the median, over the last `abuse.baseline_days` complete days that had
traffic, of the project's average per-minute request rate on that day; cached, and
recomputed when older than `abuse.baseline_refresh_seconds`. A project with no such day
has no baseline and is never found to use excessively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pjobs.control.usage import ScanLimits

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.settings.config import Settings

PATTERNS = ("excessive_usage", "error_spike", "suspicious_pattern")


@dataclass(frozen=True)
class Evaluation:
    pattern: str
    held: bool
    reason: str
    metrics: dict[str, float]
    sources: dict[str, str] = field(default_factory=dict)  # each figure's: alert or pjobs


def with_evidence(
    pattern: str, given: dict[str, float], measured: dict[str, float], settings: Settings
) -> Evaluation:
    """`evaluate` on the figures an alert gave (`given`), pjobs' own usage (`measured`)
    for the rest; where each came from is kept. A figure pjobs would derive from others
    is not mixed with the alert's: an error rate given stands instead of pjobs' error
    count, and errors or requests given stand instead of pjobs' error rate."""
    measured = dict(measured)
    if "error_rate" in given and "errors" not in given:
        measured.pop("errors", None)
    if "errors" in given or "requests" in given:
        measured.pop("error_rate", None)
    metrics = {**measured, **given}
    sources = {name: "alert" if name in given else "pjobs" for name in metrics}
    found = evaluate(pattern, metrics, settings)
    return Evaluation(found.pattern, found.held, found.reason, found.metrics, sources)


@dataclass
class ScanReport:
    since: datetime
    until: datetime
    checked: int = 0  # active projects with requests in the window
    findings: list[tuple[str, bool, Evaluation]] = field(default_factory=list)  # id, protected


def window(now: datetime, seconds: float) -> tuple[datetime, datetime]:
    """The current window: the last `seconds` in whole minutes, the current one included."""
    until = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return until - timedelta(seconds=seconds), until


def rates(
    requests: float, errors: float, baseline: float | None, minutes: float
) -> dict[str, float]:
    """What the patterns judge, from a window's counts and a baseline."""
    measured = {
        "requests": requests,
        "errors": errors,
        "requests_per_minute": round(requests / minutes, 3),
        "error_rate": round(errors / requests, 4) if requests else 0.0,
    }
    if baseline is not None:
        measured["baseline_requests_per_minute"] = round(baseline, 3)
    return measured


def evaluate(pattern: str, metrics: dict[str, float], settings: Settings) -> Evaluation:
    """Whether the pattern holds for these metrics, and why (or why not)."""
    cfg = settings.abuse
    if pattern == "excessive_usage":
        rate, baseline = (
            metrics.get("requests_per_minute"),
            metrics.get("baseline_requests_per_minute"),
        )
        if rate is None:
            return Evaluation(pattern, False, "no request rate measured", metrics)
        if not baseline:
            return Evaluation(pattern, False, "no baseline (no usage history)", metrics)
        ratio = rate / baseline
        held = ratio > cfg.usage_ratio
        verdict = "above" if held else "within"
        reason = (
            f"{rate:g} requests/min is {ratio:.1f}x the baseline {baseline:g} "
            f"({verdict} {cfg.usage_ratio:g}x)"
        )
        return Evaluation(pattern, held, reason, metrics)
    if pattern == "error_spike":
        requests = metrics.get("requests", 0.0)
        errors = metrics.get("errors")
        share = (
            errors / requests if errors is not None and requests else metrics.get("error_rate", 0.0)
        )
        if requests < cfg.min_requests:
            reason = f"{requests:g} requests, below the minimum volume {cfg.min_requests}"
            return Evaluation(pattern, False, reason, metrics)
        held = share > cfg.error_rate
        verdict = "above" if held else "within"
        reason = f"{share:.0%} of {requests:g} requests failed ({verdict} {cfg.error_rate:.0%})"
        return Evaluation(pattern, held, reason, metrics)
    return Evaluation(pattern, True, "raised by monitoring or an operator", metrics)


def measured(tx: ControlTx, project_id: str, now: datetime, seconds: float) -> dict[str, float]:
    """One project's window of `seconds` and baseline, as `rates`."""
    since, until = window(now, seconds)
    requests, errors = tx.usage.window_of(project_id, since, until)
    minutes = seconds / 60
    return rates(requests, errors, tx.usage.baseline_of(project_id), minutes)


def refresh_baselines(tx: ControlTx, settings: Settings, now: datetime) -> bool:
    """Recompute the cached baselines if they are missing or too old; whether it did."""
    computed = tx.usage.baselines_computed_at()
    if (
        computed is not None
        and (now - computed).total_seconds() < settings.abuse.baseline_refresh_seconds
    ):
        return False
    tx.usage.recompute_baselines(now.date(), settings.abuse.baseline_days)
    return True


def scan(
    tx: ControlTx,
    settings: Settings,
    now: datetime,
    project_ids: list[str] | None,
    seconds: float | None = None,
) -> ScanReport:
    """Every active project's current window (`abuse.window_seconds` unless `seconds`)
    against its baseline: the patterns that hold. The query finds the candidates, whose
    figures `evaluate` judges: a few rows, however many projects."""
    cfg = settings.abuse
    seconds = seconds or cfg.window_seconds
    since, until = window(now, seconds)
    minutes = seconds / 60
    limits = ScanLimits(minutes, cfg.usage_ratio, cfg.min_requests, cfg.error_rate)
    checked, candidates = tx.usage.scan_window(since, until, project_ids, limits)
    report = ScanReport(since, until, checked)
    for row in candidates:
        baseline = None if row["baseline"] is None else float(row["baseline"])
        metrics = rates(float(row["requests"]), float(row["errors"]), baseline, minutes)
        for pattern in ("excessive_usage", "error_spike"):
            result = evaluate(pattern, metrics, settings)
            if result.held:
                report.findings.append((row["project_id"], bool(row["protected"]), result))
    return report


def describe(report: ScanReport) -> dict[str, Any]:
    return {
        "window": {"since": report.since, "until": report.until},
        "checked": report.checked,
        "findings": [
            {
                "project_id": p,
                "protected": protected,
                "pattern": e.pattern,
                "reason": e.reason,
                "metrics": e.metrics,
            }
            for p, protected, e in report.findings
        ],
    }
