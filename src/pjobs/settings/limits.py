"""The settings of usage, quotas and abuse (`[usage]`, `[quotas]`, `[abuse]`): the metrics
usage is recorded for, the plans' quotas, the abuse patterns' thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pjobs.settings.groups import Group

MetricKind = Literal["counter", "gauge"]
METRIC_NAME = r"^[a-z][a-z0-9_]{0,62}$"
GB = 1_000_000_000
DEFAULT_METRICS: dict[str, MetricKind] = {
    "requests": "counter",
    "errors": "counter",
    "bandwidth_bytes": "counter",
    "storage_bytes": "gauge",
    "db_size_bytes": "gauge",
}


class UsageSettings(Group):
    metrics: dict[str, MetricKind] = Field(
        default_factory=lambda: dict(DEFAULT_METRICS),
        description="metrics usage is recorded for: counters add up, gauges keep the latest",
    )
    minute_retention_hours: float = Field(
        2.0,
        gt=0,
        le=24 * 31,
        description="how long per-minute request counts are kept (older usage feeds only the "
        "totals and the per-day counts); at least the abuse window",
    )
    day_retention_days: int = Field(
        60, ge=8, le=3660, description="how long per-day request counts are kept"
    )

    @field_validator("metrics")
    @classmethod
    def _names(cls, value: dict[str, MetricKind]) -> dict[str, MetricKind]:
        import re

        for name in value:
            if not re.fullmatch(METRIC_NAME[1:-1], name):
                raise ValueError(f"invalid metric name {name!r}: expected {METRIC_NAME}")
        for needed in ("requests", "errors"):
            if value.get(needed) != "counter":
                raise ValueError(f"metric {needed!r} must be a counter (the abuse scan uses it)")
        return value


class QuotaLimit(Group):
    limit: float = Field(ge=0, allow_inf_nan=False)
    hard: bool = Field(False, description="at 100 % the project is suspended (else: a warning)")


def _default_plans() -> dict[str, dict[str, QuotaLimit]]:
    return {
        "free": {
            "requests": QuotaLimit(limit=1_000_000, hard=True),
            "bandwidth_bytes": QuotaLimit(limit=5 * GB, hard=True),
            "storage_bytes": QuotaLimit(limit=1 * GB, hard=True),
            "db_size_bytes": QuotaLimit(limit=GB // 2, hard=True),
        },
        "pro": {
            "requests": QuotaLimit(limit=100_000_000),
            "bandwidth_bytes": QuotaLimit(limit=250 * GB),
            "storage_bytes": QuotaLimit(limit=100 * GB),
            "db_size_bytes": QuotaLimit(limit=8 * GB),
        },
    }


class QuotaSettings(Group):
    warn_at: list[int] = Field(
        default_factory=lambda: [80, 90], description="percentages that warn the owner, once"
    )
    plans: dict[str, dict[str, QuotaLimit]] = Field(
        default_factory=_default_plans, description="per plan: metric -> {limit, hard}"
    )

    @field_validator("warn_at")
    @classmethod
    def _percentages(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= p <= 99 for p in value) or len(set(value)) != len(value):
            raise ValueError("warn_at is a list of distinct percentages from 1 to 99")
        return sorted(value)


class AbuseSettings(Group):
    window_seconds: float = Field(
        300.0,
        ge=60,
        le=86_400,
        description="the window current rates are measured over (≤ usage.minute_retention)",
    )
    usage_ratio: float = Field(
        10.0, gt=1, description="excessive usage: request rate above this many times baseline"
    )
    error_rate: float = Field(0.5, gt=0, lt=1, description="error spike: errors / requests above")
    min_requests: int = Field(
        100, ge=1, description="error spike: at least this many requests in the window"
    )
    baseline_days: int = Field(7, ge=1, le=60, description="complete days the baseline spans")
    baseline_refresh_seconds: float = Field(
        3600.0, gt=0, description="how old a cached baseline may be before it is recomputed"
    )
