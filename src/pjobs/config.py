"""Settings, their schema and where they come from: flags > `PJOBS_*` environment > TOML
config file > defaults.

Nested settings use `__` in environment variables (`PJOBS_WORKER__CONCURRENCY=20`)
and tables in TOML (`[worker] concurrency = 20`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from pjobs import ids
from pjobs.errors import ConfigError
from pjobs.locations import config_file_path, default_data_dir, read_toml
from pjobs.settings_groups import (
    BackupSettings,
    KeySettings,
    NotificationSettings,
    ProjectSettings,
    ReceiverSettings,
    ScheduleSettings,
    SchedulingSettings,
    ServicesSettings,
    TelegramSettings,
    TenantSettings,
    WebhookSettings,
    WorkerSettings,
)
from pjobs.settings_limits import AbuseSettings, QuotaSettings, UsageSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PJOBS_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str | None = Field(
        None, description="sqlite:///PATH or postgresql://…; default SQLite in data_dir"
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="the SQLite control database, tenant files and local backups "
        "(default: $XDG_DATA_HOME/pjobs)",
    )
    actor: str | None = Field(
        None,
        pattern=ids.ACTOR.pattern,
        description="who the audit trail names for what this process asks (default: OS user)",
    )
    handler_modules: list[str] = Field(
        default_factory=list, description="modules whose job types are registered at start"
    )
    max_payload_bytes: int = Field(1_048_576, ge=64, description="largest accepted job payload")
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    default_region: str = Field(
        "us-east-1", pattern=ids.REGION.pattern, description="provision without --region"
    )
    default_plan: str = Field(
        "free", pattern=ids.PLAN.pattern, description="provision without --plan"
    )
    services: ServicesSettings = Field(default_factory=ServicesSettings)
    tenants: TenantSettings = Field(default_factory=TenantSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    projects: ProjectSettings = Field(default_factory=ProjectSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    usage: UsageSettings = Field(default_factory=UsageSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    abuse: AbuseSettings = Field(default_factory=AbuseSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    backups: BackupSettings = Field(default_factory=BackupSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    schedules: dict[str, ScheduleSettings] = Field(
        default_factory=dict, description="changes to the built-in schedules, and new ones"
    )

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_given(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty: give a folder (an empty one would mean this directory)")
        return value

    @model_validator(mode="after")
    def _quotas_name_known_metrics(self) -> Settings:
        if self.abuse.window_seconds > self.usage.minute_retention_hours * 3600:
            raise ValueError(
                "abuse.window_seconds is longer than usage.minute_retention_hours keeps "
                "per-minute counts"
            )
        for plan, limits in self.quotas.plans.items():
            unknown = sorted(set(limits) - set(self.usage.metrics))
            if unknown:
                raise ValueError(
                    f"quotas.plans.{plan} limits unknown metric {unknown[0]!r} "
                    f"(known: {', '.join(sorted(self.usage.metrics))}; add it to usage.metrics)"
                )
        return self


class _FileSource(PydanticBaseSettingsSource):
    """The TOML config file as a settings source, ranked below the environment."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def describe_validation_error(error: ValidationError, subject: str, whole: str) -> str:
    """One line for a pydantic error: `{subject} {field}: {message}`, naming the first
    problem and counting the rest; `whole` names the field when the error is on all of it."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{subject} {where}: {first['msg']}{more}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; `overrides` are command-line flags (None means not given)."""
    path = config_file_path(config_file)
    file_data = read_toml(path) if path is not None else {}

    class _Settings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _FileSource(settings_cls, file_data))

    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        settings: Settings = _Settings(**given)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, "invalid setting", "settings")) from None
    except SettingsError as exc:  # e.g. PJOBS_WORKER that is not a JSON object
        raise ConfigError(f"invalid setting: {exc}") from None
    if settings.database_url:
        from pjobs.dburl import parse_database_url

        parse_database_url(settings.database_url)
    return settings
