"""Files pjobs reads because a setting names them (secrets, the config file, the tenant
schema), read with a size limit; and secrets from their setting (the environment) or such
a file, never from a flag, never in output."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pjobs.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr


SECRET_LIMIT = 65_536


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The file's bytes; ConfigError (78) if it cannot be read or is over `limit` bytes
    (a setting naming /dev/zero must not fill the memory)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise ConfigError(f"{what} {path} is larger than {limit:,} bytes")
    return data


def read_text_limited(path: Path, limit: int, what: str) -> str:
    try:
        return read_limited(path, limit, what).decode()
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
    """A secret from its setting (environment) or from the file a setting names."""
    if value is not None:
        return value.get_secret_value().strip() or None
    if file is None:
        return None
    return read_text_limited(file, SECRET_LIMIT, f"the file of {what}").strip() or None
