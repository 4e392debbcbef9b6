"""Files pjobs reads because a setting names them (secrets, the config file, the tenant
schema), read with a size limit; and secrets from their setting (the environment) or such
a file, never from a flag, never in output."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pjobs.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr


SECRET_LIMIT = 65_536
MIN_TOKEN_LENGTH = 32  # a bearer token's: shorter ones can be guessed
log = logging.getLogger("pjobs.files")


def long_enough(token: str, where: str) -> str:
    """The bearer token `where` names; ConfigError (78) when it is shorter than
    MIN_TOKEN_LENGTH characters."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{where} is shorter than {MIN_TOKEN_LENGTH} characters: make one with "
            "`openssl rand -hex 32`"
        )
    return token


def warn_if_open(path: Path, what: str) -> None:
    """Warn when a private file or folder can be read (or a folder entered) by other
    users: the database, the data folder, a token or key file should be the owner's."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        fix = "700" if path.is_dir() else "600"
        log.warning(
            "%s %s is open to other users (mode %04o): chmod %s %s", what, path, mode, fix, path
        )


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
    secret = read_text_limited(file, SECRET_LIMIT, f"the file of {what}").strip() or None
    warn_if_open(file, f"the file of {what}")
    return secret
