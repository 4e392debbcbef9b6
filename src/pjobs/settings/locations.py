"""Where pjobs looks for its files (XDG folders, the configuration file), and reading that
file: light enough for the start-up path and shell completion, which load no settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pjobs.errors import ConfigError

CONFIG_LIMIT = 1024 * 1024


def xdg_dir(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else Path.home() / fallback


def default_data_dir() -> Path:
    return xdg_dir("XDG_DATA_HOME", ".local/share") / "pjobs"


def config_file_path(explicit: Path | None) -> Path | None:
    """--config, else PJOBS_CONFIG, else the XDG config file if it exists."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get("PJOBS_CONFIG")
    if from_env:
        return Path(from_env)
    candidate = xdg_dir("XDG_CONFIG_HOME", ".config") / "pjobs" / "config.toml"
    return candidate if candidate.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """The configuration file's tables; ConfigError (78) if it is missing, too large or
    not TOML."""
    import tomllib

    from pjobs.settings.secretfile import read_limited

    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    data = read_limited(path, CONFIG_LIMIT, "config file")
    try:
        return tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ConfigError(f"config file {path} is not valid TOML: {reason}") from None
