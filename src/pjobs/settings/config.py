"""Settings, their schema and where they come from: flags > `PJOBS_*` environment > TOML
config file > defaults.

They are read by this loader, not pydantic-settings: start-up is a feature (tab completion
runs the program on every key press), and pydantic-settings imported asyncio and cost about
35 ms a call. The models are pydantic's; the reading of environment and file is ours.

Nested settings use `__` in environment variables (`PJOBS_WORKER__CONCURRENCY=20`)
and tables in TOML (`[worker] concurrency = 20`); a list, a table or a map given in the
environment is JSON (`PJOBS_WEBHOOKS__ALLOW_CIDRS='["127.0.0.1/32"]'`). Names are matched
without regard to case.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    TypeVar,
    Union,
    get_args,
    get_origin,
    overload,
)

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from pjobs import ids
from pjobs.errors import ConfigError
from pjobs.ids import describe_validation_error
from pjobs.settings.locations import config_file_path, default_data_dir, read_toml

if TYPE_CHECKING:
    from pjobs.settings.groups import (
        ApiSettings,
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
        UiSettings,
        WebhookSettings,
        WorkerSettings,
    )
    from pjobs.settings.limits import AbuseSettings, QuotaSettings, UsageSettings

ENV_PREFIX = "pjobs_"
ENV_NESTING = "__"
GROUPS = "pjobs.settings.groups"
LIMITS = "pjobs.settings.limits"
T = TypeVar("T")


class Section(Generic[T]):
    """A group of settings, a table in TOML (`[worker]`): checked when the settings are
    loaded if the file, the environment or a flag sets any of it; otherwise its defaults,
    made when first read. A command pays only for the groups it reads."""

    def __init__(self, module: str, model: str, keyed: bool = False, description: str = "") -> None:
        self.module, self.model, self.keyed, self.description = module, model, keyed, description
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def annotation(self) -> Any:
        """The group's type: its model, or with `keyed` a table of them by name."""
        import importlib

        model = getattr(importlib.import_module(self.module), self.model)
        return dict[str, model] if self.keyed else model  # type: ignore[valid-type]

    def check(self, value: Any) -> T:
        """The group validated; ConfigError naming the setting when it is not valid."""
        from pydantic import TypeAdapter

        adapter: TypeAdapter[T] = TypeAdapter(self.annotation())
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(exc, "invalid setting", self.name, self.name)
            ) from None

    @overload
    def __get__(self, settings: None, owner: type) -> Section[T]: ...

    @overload
    def __get__(self, settings: Settings, owner: type) -> T: ...

    def __get__(self, settings: Settings | None, owner: type) -> Section[T] | T:
        if settings is None:
            return self
        groups = settings._groups
        if self.name not in groups:
            groups[self.name] = self.check({})
        value: T = groups[self.name]
        return value


class Settings(BaseModel):
    """All of pjobs' settings: those of the top level are fields, the groups `Section`s.
    Made with `Settings(**tables)` (as `load_settings` does) or `Settings(data_dir=…,
    worker=WorkerSettings(…))`; a setting that is not valid raises ConfigError."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

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
    default_region: str = Field(
        "us-east-1", pattern=ids.REGION.pattern, description="provision without --region"
    )
    default_plan: str = Field(
        "free", pattern=ids.PLAN.pattern, description="provision without --plan"
    )

    worker: ClassVar[Section[WorkerSettings]] = Section(GROUPS, "WorkerSettings")
    services: ClassVar[Section[ServicesSettings]] = Section(GROUPS, "ServicesSettings")
    tenants: ClassVar[Section[TenantSettings]] = Section(GROUPS, "TenantSettings")
    telegram: ClassVar[Section[TelegramSettings]] = Section(GROUPS, "TelegramSettings")
    projects: ClassVar[Section[ProjectSettings]] = Section(GROUPS, "ProjectSettings")
    keys: ClassVar[Section[KeySettings]] = Section(GROUPS, "KeySettings")
    notifications: ClassVar[Section[NotificationSettings]] = Section(GROUPS, "NotificationSettings")
    usage: ClassVar[Section[UsageSettings]] = Section(LIMITS, "UsageSettings")
    quotas: ClassVar[Section[QuotaSettings]] = Section(LIMITS, "QuotaSettings")
    abuse: ClassVar[Section[AbuseSettings]] = Section(LIMITS, "AbuseSettings")
    webhooks: ClassVar[Section[WebhookSettings]] = Section(GROUPS, "WebhookSettings")
    receiver: ClassVar[Section[ReceiverSettings]] = Section(GROUPS, "ReceiverSettings")
    api: ClassVar[Section[ApiSettings]] = Section(GROUPS, "ApiSettings")
    ui: ClassVar[Section[UiSettings]] = Section(GROUPS, "UiSettings")
    backups: ClassVar[Section[BackupSettings]] = Section(GROUPS, "BackupSettings")
    scheduling: ClassVar[Section[SchedulingSettings]] = Section(GROUPS, "SchedulingSettings")
    schedules: ClassVar[Section[dict[str, ScheduleSettings]]] = Section(
        GROUPS,
        "ScheduleSettings",
        keyed=True,
        description="changes to the built-in schedules, and new ones",
    )

    _groups: dict[str, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        given = {name: data.pop(name) for name in list(data) if name in SECTIONS}
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(exc, "invalid setting", "settings")
            ) from None
        for name, value in given.items():
            self._groups[name] = SECTIONS[name].check(value)
        if given.keys() & {"usage", "quotas", "abuse"}:
            self._check_limits()

    def with_groups(self, **groups: Any) -> Settings:
        """A copy with these groups (validated models) in place of this one's."""
        copy = self.model_copy()
        copy._groups = {**self._groups, **groups}
        return copy

    @field_validator("actor")
    @classmethod
    def _actor_not_reserved(cls, value: str | None) -> str | None:
        if value is not None and value.lower().startswith(ids.RESERVED_ACTORS):
            reserved = ", ".join(ids.RESERVED_ACTORS)
            raise ValueError(f"{reserved} name pjobs' own automation: choose another name")
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_given(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty: give a folder (an empty one would mean this directory)")
        return value

    def _check_limits(self) -> None:
        """The groups of usage, quotas and abuse agree with each other."""
        if self.abuse.window_seconds > self.usage.minute_retention_hours * 3600:
            raise ConfigError(
                "invalid setting abuse.window_seconds: longer than usage.minute_retention_hours "
                "keeps per-minute counts"
            )
        for plan, limits in self.quotas.plans.items():
            unknown = sorted(set(limits) - set(self.usage.metrics))
            if unknown:
                raise ConfigError(
                    f"invalid setting quotas.plans.{plan}: limits unknown metric {unknown[0]!r} "
                    f"(known: {', '.join(sorted(self.usage.metrics))}; add it to usage.metrics)"
                )


SECTIONS: dict[str, Section[Any]] = {
    name: value for name, value in vars(Settings).items() if isinstance(value, Section)
}


def _unwrapped(annotation: Any) -> Any:
    """`X | None` as X (the environment cannot say None anyway)."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _field_annotation(path: list[str]) -> Any:
    """The type of the setting at `path` (None if no setting is there)."""
    if path[0] in SECTIONS:
        annotation: Any = SECTIONS[path[0]].annotation()
    elif path[0] in Settings.model_fields:
        annotation = Settings.model_fields[path[0]].annotation
    else:
        return None
    for part in path[1:]:
        annotation = _unwrapped(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    return _unwrapped(annotation)


def _is_json(annotation: Any) -> bool:
    """Whether the environment gives this setting as JSON (a list, a map, a table)."""
    if get_origin(annotation) in (list, dict, set, tuple):
        return True
    return isinstance(annotation, type) and issubclass(annotation, (BaseModel, list, dict))


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`into` with `update` laid over it, tables merged key by key."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
    return into


def settings_document(settings: Settings) -> dict[str, Any]:
    """Every setting in effect, as JSON values, the groups included; secrets as `**********`
    and passwords in URLs hidden (what `pjobs config show` prints)."""
    import json

    from pjobs.redaction import redact

    document: dict[str, Any] = settings.model_dump(mode="json")
    for name in SECTIONS:
        value = getattr(settings, name)
        document[name] = (
            {key: each.model_dump(mode="json") for key, each in value.items()}
            if isinstance(value, dict)
            else value.model_dump(mode="json")
        )
    hidden: dict[str, Any] = json.loads(redact(json.dumps(document)))
    return hidden


def profile_name(flag: str | None) -> str | None:
    """The profile in use: --profile, else PJOBS_PROFILE, else none."""
    return flag or os.environ.get("PJOBS_PROFILE") or None


def profile_table(profiles: Any, name: str, path: Path | None) -> dict[str, Any]:
    """The settings of one named profile of the config file; ConfigError (78) naming the
    profiles there are when it has none of that name."""
    from pjobs.errors import choice_hint

    names = sorted(profiles) if isinstance(profiles, dict) else []
    table = profiles.get(name) if isinstance(profiles, dict) else None
    if not isinstance(table, dict):
        where = f"{path}" if path is not None else "no config file"
        raise ConfigError(
            f"no profile {name[:40]!r} in {where} (profiles: {', '.join(names) or 'none'})"
            + choice_hint(name, names)
        )
    return dict(table)


def profiles_of(config_file: Path | None) -> tuple[Path | None, dict[str, dict[str, Any]]]:
    """The config file and its profiles (name -> their settings, as written)."""
    path = config_file_path(config_file)
    profiles = (read_toml(path) if path is not None else {}).get("profiles", {})
    return path, {k: v for k, v in profiles.items() if isinstance(v, dict)}


def environment_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings `PJOBS_*` variables give, as nested tables. Variables that name no
    setting group (`PJOBS_CONFIG`, …) are not settings; a misspelt key inside a group is
    kept, for validation to refuse."""
    import json

    found: dict[str, Any] = {}
    given = [name for name in environ if name.lower().startswith(ENV_PREFIX)]
    # a whole table first, then what its keys' own variables change in it
    for name in sorted(given, key=lambda name: (name.count(ENV_NESTING), name)):
        path = name.lower()[len(ENV_PREFIX) :].split(ENV_NESTING)
        if (path[0] not in Settings.model_fields and path[0] not in SECTIONS) or not all(path):
            continue
        value: Any = environ[name]
        if _is_json(_field_annotation(path)):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ConfigError(f"invalid setting: {name} is not JSON ({exc})") from None
        for part in reversed(path[1:]):
            value = {part: value}
        _merge(found, {path[0]: value})
    return found


def load_settings(
    config_file: Path | None = None, profile: str | None = None, **overrides: Any
) -> Settings:
    """Build the settings: the config file, its `[profiles.NAME]` table for `profile`
    (else PJOBS_PROFILE's), the environment, then `overrides`, the command-line flags
    (None means not given), each over the one before."""
    path = config_file_path(config_file)
    data = read_toml(path) if path is not None else {}
    profiles = data.pop("profiles", {})
    chosen = profile_name(profile)
    if chosen is not None:
        _merge(data, profile_table(profiles, chosen, path))
    _merge(data, environment_settings(os.environ))
    _merge(data, {key: value for key, value in overrides.items() if value is not None})
    settings = Settings(**data)
    if settings.database_url:
        from pjobs.settings.dburl import parse_database_url

        parse_database_url(settings.database_url)
    return settings
