"""Secrets from their setting (the environment) or from a file a setting names; never
from a flag, never in output."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pjobs.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
    """A secret from its setting (environment) or from the file a setting names."""
    if value is not None:
        return value.get_secret_value().strip() or None
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} from {file}: {exc.strerror}") from None
