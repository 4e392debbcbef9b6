"""Settings precedence: flags > environment > config file > defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pjobs.errors import ConfigError, InvalidInputError
from pjobs.settings.config import load_settings
from pjobs.settings.dburl import database_url, parse_database_url
from pjobs.timeutil import parse_duration


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pjobs.toml"
    config.write_text(
        'database_url = "sqlite:///from-file.db"\n[worker]\nconcurrency = 3\nbatch_size = 50\n'
    )
    settings = load_settings(config)
    assert (settings.worker.concurrency, settings.worker.batch_size) == (3, 50)
    monkeypatch.setenv("PJOBS_WORKER__CONCURRENCY", "7")
    monkeypatch.setenv("PJOBS_DATABASE_URL", "sqlite:///from-env.db")
    settings = load_settings(config)
    assert (settings.worker.concurrency, settings.worker.batch_size) == (7, 50)
    assert settings.database_url == "sqlite:///from-env.db"
    flagged = load_settings(config, database_url="sqlite:///from-flag.db")
    assert flagged.database_url == "sqlite:///from-flag.db"


def test_config_file_from_environment_and_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdg = tmp_path / "xdg-config" / "pjobs"
    xdg.mkdir(parents=True)
    (xdg / "config.toml").write_text("max_payload_bytes = 4096\n")
    assert load_settings().max_payload_bytes == 4096
    other = tmp_path / "other.toml"
    other.write_text("max_payload_bytes = 8192\n")
    monkeypatch.setenv("PJOBS_CONFIG", str(other))
    assert load_settings().max_payload_bytes == 8192


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    url = database_url(load_settings())
    assert url.dialect == "sqlite"
    assert url.target == str(tmp_path / "xdg-data" / "pjobs" / "pjobs.db")


@pytest.mark.parametrize(
    "setting",
    [{"worker": {"concurrency": 0}}, {"max_payload_bytes": "lots"}, {"unknown_setting": 1}],
)
def test_invalid_settings_are_config_errors(tmp_path: Path, setting: dict[str, object]) -> None:
    import tomllib  # noqa: F401  (the file below is TOML)

    config = tmp_path / "bad.toml"
    lines = []
    for key, value in setting.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines.extend(f"{k} = {v!r}" for k, v in value.items())
        else:
            lines.insert(0, f"{key} = {value!r}".replace("'", '"'))
    config.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="invalid setting"):
        load_settings(config)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("PJOBS_WEBHOOKS__MAX_ATTEMPTS", "0", "webhooks.max_attempts"),
        ("PJOBS_WORKER__CONCURENCY", "3", "worker.concurency"),
        ("PJOBS_SCHEDULES", '{"nightly": {"cron": 5}}', "schedules.nightly.cron"),
        ("PJOBS_RECEIVER__PATTERNS", "{not json", "PJOBS_RECEIVER__PATTERNS"),
        ("PJOBS_ABUSE__WINDOW_SECONDS", "86400", "abuse.window_seconds"),
    ],
)
def test_a_group_given_is_checked_at_load_though_nothing_reads_it(
    variable: str, value: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"invalid setting:? {named}"):
        load_settings()


def test_environment_values_are_json_where_the_setting_is_a_list_or_a_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PJOBS_WEBHOOKS__ALLOW_CIDRS", '["127.0.0.1/32"]')
    monkeypatch.setenv("pjobs_worker", '{"concurrency": 4, "batch_size": 9}')
    monkeypatch.setenv("PJOBS_WORKER__BATCH_SIZE", "8")
    monkeypatch.setenv("PJOBS_SCHEDULES__NIGHTLY__ENABLED", "false")
    monkeypatch.setenv("PJOBS_TELEGRAM__OPERATORS_CHAT_ID", "[1]")
    settings = load_settings()
    assert settings.webhooks.allow_cidrs == ["127.0.0.1/32"]
    assert (settings.worker.concurrency, settings.worker.batch_size) == (4, 8)
    assert settings.schedules["nightly"].enabled is False
    assert settings.telegram.operators_chat_id == "[1]"  # a string setting is not JSON


def test_settings_copied_with_a_group_leave_the_original_alone(tmp_path: Path) -> None:
    settings = load_settings()
    worker = settings.worker.model_copy(update={"concurrency": 99})
    copy = settings.with_groups(worker=worker)
    assert (copy.worker.concurrency, settings.worker.concurrency) == (99, 10)
    assert copy.data_dir == settings.data_dir


def test_database_urls() -> None:
    assert parse_database_url("sqlite:///var/lib/pjobs.db").target == "/var/lib/pjobs.db"
    pg = parse_database_url("postgresql://app:s3cret@db.internal:5432/pjobs")
    assert pg.dialect == "postgresql"
    assert "s3cret" not in pg.redacted() and "<password>" in pg.redacted()
    for bad in ("mysql://x", "sqlite://", "postgresql:///nohost", ""):
        with pytest.raises(ConfigError):
            parse_database_url(bad)
    # URLs urllib cannot split: one line and 78, never an "unexpected error" (the password
    # still hidden)
    for bad in ("postgresql://u:pw@[::1/db", "postgresql://u:pw@h:notaport/db"):
        with pytest.raises(ConfigError, match="invalid database URL") as refused:
            parse_database_url(bad)
        assert "pw" not in str(refused.value)


def test_durations() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("250ms") == timedelta(milliseconds=250)
    for bad in ("", "soon", "5 parsecs", "-3h", "3hh"):
        with pytest.raises(InvalidInputError):
            parse_duration(bad)
    for bare in ("45", "7", "0.5"):  # no unit: refused, the units named
        with pytest.raises(InvalidInputError, match="has no unit: give one of s, m, h or d"):
            parse_duration(bare)
    from datetime import UTC, datetime

    from pjobs.timeutil import parse_time

    assert parse_time("2026-12") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_time("2026-12-06") == datetime(2026, 12, 6, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match=r"an ISO time .* or a duration ago"):
        parse_time("7")


def test_the_example_config_loads_and_its_schedules_check() -> None:
    from pjobs.queue import scheduler
    from pjobs.queue.plugins import load_registry

    example = Path(__file__).parents[2] / "deploy" / "config.example.toml"
    settings = load_settings(example)
    checked = scheduler.checked(settings, load_registry(settings))
    assert {s.name for s, _ in checked} >= {"check-limits", "scan-abuse", "nightly-noop"}


@pytest.mark.parametrize("actor", ["schedule:check-limits", "alert:grafana", "job:12", "API:x"])
def test_an_operator_cannot_act_as_pjobs_own_automation(tmp_path: Path, actor: str) -> None:
    with pytest.raises(ConfigError, match="pjobs' own automation"):
        load_settings(None, data_dir=tmp_path, actor=actor)
    assert load_settings(None, data_dir=tmp_path, actor="cron:nightly-backup").actor
