"""The groups of settings, one table each in TOML (`[worker]`, `[services.auth]`,
`[webhooks]`, `[backups]`, …) and `PJOBS_GROUP__KEY` in the environment; those of usage,
quotas and abuse are in `settings_limits`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator


def _http_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    if "@" in parts.netloc:
        raise ValueError("a URL here may not carry credentials: use the token setting")
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class WorkerSettings(Group):
    concurrency: int = Field(10, ge=1, le=1024, description="jobs run at once per serve process")
    processes: int = Field(
        1, ge=1, le=64, description="serve processes `pjobs serve` runs (one a core at most)"
    )
    batch_size: int = Field(1000, ge=1, le=10_000, description="most jobs claimed per round trip")
    prefetch: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="jobs claimed beyond concurrency, waiting locally (unset: what the "
        "worker finishes in a quarter of a second, 10 to 2 batches)",
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="a claimed job's lease; renewed by heartbeat"
    )
    poll_interval: float = Field(1.0, gt=0, description="seconds between polls when idle")
    shutdown_timeout: float = Field(30.0, ge=0, description="seconds running jobs get on SIGTERM")
    rescue_interval: float = Field(15.0, gt=0, description="seconds between expired-lease sweeps")
    max_rescues: int = Field(5, ge=0, description="times a job may lose its worker before it fails")
    time_limit_seconds: float | None = Field(
        3600.0, gt=0, description="an attempt runs at most this long unless its job or type says"
    )
    max_outage_seconds: float = Field(
        600.0, gt=0, description="serve stops (69/75) when the database fails this long"
    )

    @property
    def heartbeat_seconds(self) -> float:
        return self.lease_seconds / 3

    @property
    def rescue_margin_seconds(self) -> float:
        """How long past its expiry a lease is left before a sweep rescues its job: a
        heartbeat late by a slow statement, or a machine's clock a little behind, is not a
        worker that died."""
        return self.lease_seconds / 2


class ServiceSettings(Group):
    """One platform service (auth, realtime, storage); no URL means not configured."""

    url: HttpURL | None = Field(None, description="base URL (unset: the service is skipped)")
    token: SecretStr | None = Field(None, description="bearer token (environment only)")
    token_file: Path | None = Field(None, description="or a file holding the token")
    timeout: float = Field(10.0, gt=0, le=300, description="seconds per request")


class ServicesSettings(Group):
    auth: ServiceSettings = Field(default_factory=ServiceSettings)
    realtime: ServiceSettings = Field(default_factory=ServiceSettings)
    storage: ServiceSettings = Field(default_factory=ServiceSettings)


class TenantSettings(Group):
    database_url: str | None = Field(
        None, description="postgresql://… server for tenant databases, or sqlite:///DIR"
    )
    schema_file: Path | None = Field(None, description="tenant schema SQL (default: built in)")
    name_prefix: str = Field(
        "pjobs_t_",
        pattern=r"^[a-z][a-z0-9_]{0,15}$",
        description="PostgreSQL tenant databases are named prefix + project id",
    )


class TelegramSettings(Group):
    bot_token: SecretStr | None = Field(None, description="Bot API token (environment only)")
    bot_token_file: Path | None = Field(None, description="or a file holding the token")
    api_base_url: HttpURL = Field(
        "https://api.telegram.org", description="the Bot API, or a self-hosted Bot API server"
    )
    timeout: float = Field(10.0, gt=0, le=300, description="seconds per request")
    upload_timeout: float = Field(300.0, gt=0, le=3600, description="uploads and downloads")
    operators_chat_id: str | None = Field(
        None, description="chat that operator notifications go to"
    )


class ProjectSettings(Group):
    lock_wait_seconds: float = Field(
        120.0,
        ge=0,
        le=86_400,
        description="how long a lifecycle job waits for another one on the same project",
    )


class KeySettings(Group):
    rotation_grace_seconds: float = Field(
        86_400, ge=0, le=90 * 86_400, description="a rotated key stays valid this long"
    )


class NotificationSettings(Group):
    max_attempts: int = Field(5, ge=1, le=100, description="sends of one notification")
    retry_base_seconds: float = Field(30.0, gt=0, description="backoff before the second send")


class WebhookSettings(Group):
    secret_key: SecretStr | None = Field(
        None, description="base64 of 32 bytes: encrypts signing secrets at rest"
    )
    secret_key_file: Path | None = Field(
        None, description="a file holding that key (default: webhooks.key in data_dir, made once)"
    )
    max_attempts: int = Field(5, ge=1, le=50, description="attempts of one delivery")
    retry_base_seconds: float = Field(10.0, gt=0, description="backoff before the second attempt")
    retry_max_seconds: float = Field(3600.0, gt=0, description="longest backoff between attempts")
    retry_after_max_seconds: float = Field(
        3600.0, gt=0, description="a receiver's Retry-After is honoured up to this"
    )
    disable_after: int = Field(
        5, ge=1, le=1000, description="consecutive failed deliveries that disable an endpoint"
    )
    timeout_seconds: float = Field(15.0, gt=0, le=300, description="an attempt's whole timeout")
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60, description="connecting, at most")
    slow_seconds: float = Field(
        2.0, gt=0, description="an attempt longer than this makes its endpoint slow"
    )
    slow_endpoint_runners: int | None = Field(
        None, ge=1, description="runners a slow endpoint may hold (default: half of them)"
    )
    max_response_bytes: int = Field(
        65_536, ge=1024, le=10_485_760, description="most of a response body read"
    )
    allow_cidrs: list[str] = Field(
        default_factory=list,
        description="addresses admitted although private or loopback (e.g. 127.0.0.1/32)",
    )

    @field_validator("allow_cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"invalid CIDR {cidr!r}") from None
        return value


# The figures abuse patterns judge, which an alert may carry (`domain.abuse.FIGURES`).
Figure = Literal[
    "requests_per_minute", "baseline_requests_per_minute", "error_rate", "requests", "errors"
]


class ReceiverSettings(Group):
    listen: str | None = Field(
        None, pattern=r"^[^\s:]*:\d{1,5}$", description="HOST:PORT for `serve` (or --http)"
    )
    token: SecretStr | None = Field(None, description="bearer token monitoring systems send")
    token_file: Path | None = Field(None, description="a file holding that token")
    tokens: dict[Literal["alertmanager", "grafana", "datadog", "generic"], SecretStr] = Field(
        default_factory=dict, description="a hook's own token, instead of the shared one"
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=64 * 1_048_576, description="larger requests get 413"
    )
    max_connections: int = Field(
        100, ge=4, le=10_000, description="connections the listener holds at once"
    )
    read_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="a request's head and body arrive within this"
    )
    max_alerts: int = Field(200, ge=1, le=10_000, description="alerts in one request (more: 413)")
    patterns: dict[str, Literal["excessive_usage", "error_spike", "suspicious_pattern"]] = Field(
        default_factory=dict,
        description="alert name -> abuse pattern, for alerts without a pattern label or tag",
    )
    metric_names: dict[str, Figure] = Field(
        default_factory=dict,
        description="a figure's name in alerts (or ALERTNAME.NAME) -> the metric it is",
    )
    policies: dict[str, Literal["evaluate", "act", "record"]] = Field(
        default_factory=dict,
        description="per SOURCE, ALERTNAME or SOURCE.ALERTNAME: evaluate (default), act, record",
    )


class ApiToken(Group):
    """A token of the enqueue API (`POST /api/jobs`) and the job types it may enqueue."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="who enqueues with it: api:NAME in the audit trail",
    )
    token_file: Path = Field(description="a file holding the token (32 characters or more)")
    job_types: list[str] = Field(min_length=1, description="the job types it may enqueue")


class ApiSettings(Group):
    tokens: list[ApiToken] = Field(
        default_factory=list,
        description="tokens of POST /api/jobs on `serve --http`, each scoped to job types: "
        "[{name, token_file, job_types}]",
    )


class UiToken(Group):
    """A token of the dashboard (`serve --http`, /ui/): read-only unless it may act."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="who looks and acts: ui:NAME in the audit trail",
    )
    token_file: Path = Field(description="a file holding the token (32 characters or more)")
    actions: bool = Field(
        False,
        description="may retry and cancel jobs, run schedules, disable and enable webhook "
        "endpoints and resume projects (default: read-only)",
    )


class UiSettings(Group):
    tokens: list[UiToken] = Field(
        default_factory=list,
        description="tokens of the dashboard on `serve --http` (none: no dashboard): "
        "[{name, token_file, actions}]",
    )
    refresh_seconds: float = Field(
        5.0, ge=0.2, le=3600, description="how often an open page updates (not while hidden)"
    )


class ScheduleSettings(Group):
    """A schedule of config: a built-in one's changes (any field), or a new one (cron and
    job needed)."""

    cron: str | None = Field(None, description="crontab, 5 fields (UTC), or 6 with seconds first")
    job: str | None = Field(None, description="the job type it enqueues")
    payload: dict[str, Any] | None = Field(None, description="the job's payload")
    enabled: bool | None = None


class SchedulingSettings(Group):
    enabled: bool = Field(
        True, description="serve fires the schedules (each tick once across processes)"
    )
    grace_seconds: float = Field(
        3600.0,
        ge=0,
        description="a tick missed while no serve ran is fired once at start if this recent",
    )
    finished_job_retention_days: float = Field(
        7.0, gt=0, description="queue maintenance purges finished jobs older than this"
    )


class BackupSettings(Group):
    local_dir: Path | None = Field(
        None, description="where local backups go (default: backups/ in data_dir)"
    )
    storage: Literal["local", "telegram"] = Field("local", description="the default storage")
    format: Literal["sql", "custom"] = Field(
        "sql", description="sql: a plain dump, gzipped; custom: pg_dump -Fc (or the SQLite file)"
    )
    compression_level: int = Field(3, ge=1, le=9, description="gzip level (1 fastest)")
    allow_unencrypted_remote: bool = Field(
        False, description="send backups to Telegram without a backup key"
    )
    key: SecretStr | None = Field(
        None, description="base64 of 32 bytes: backups are encrypted (AES-GCM) when set"
    )
    key_file: Path | None = Field(None, description="a file holding that key")
    telegram_chat_id: str | None = Field(None, description="the chat Telegram backups go to")
    part_bytes: int = Field(
        19_000_000,
        ge=1024,
        le=50_000_000,
        description="Telegram parts at most this big (the Bot API reads back up to 20 MB)",
    )
    keep: int | None = Field(None, ge=1, description="retention: completed backups kept a project")
    max_age_days: float | None = Field(None, gt=0, description="retention: older ones pruned")
    pg_dump: str = Field("pg_dump", description="the pg_dump program")
    pg_restore: str = Field("pg_restore", description="the pg_restore program")
    psql: str = Field("psql", description="the psql program (restores of plain dumps)")
