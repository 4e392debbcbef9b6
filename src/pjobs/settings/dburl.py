"""Database URLs: parsing `sqlite:///PATH` and `postgresql://…`, and showing them without
their passwords."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pjobs.errors import ConfigError
from pjobs.redaction import redact

if TYPE_CHECKING:
    from pjobs.settings.config import Settings


@dataclass(frozen=True)
class DatabaseURL:
    dialect: Literal["sqlite", "postgresql"]
    target: str  # a file path for SQLite, a libpq conninfo URL for PostgreSQL

    def redacted(self) -> str:
        """The URL without its password, for output and logs."""
        if self.dialect == "sqlite":
            return (
                f"sqlite:///{self.target.lstrip('/')}"
                if self.target.startswith("/")
                else (f"sqlite://{self.target}")
            )
        return redact(self.target)


def parse_database_url(url: str) -> DatabaseURL:
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if path.lstrip("/") == ":memory:" or path.startswith("file:"):
            raise ConfigError(
                f"invalid database URL {url!r}: an in-memory database loses every job when "
                "the command ends; give a file path (sqlite:///PATH)"
            )
        if path.startswith("//"):
            path = "/" + path.lstrip("/")  # sqlite:////abs/path names the same file
        if not path or path == "/":
            raise ConfigError(
                f"invalid database URL {redact(url)!r}: sqlite:///PATH needs a file path"
            )
        return DatabaseURL("sqlite", path)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            parts = urlsplit(url)
            hostname, _ = parts.hostname, parts.port
        except ValueError as exc:  # an unbalanced [ ], a port that is no number
            raise ConfigError(f"invalid database URL {redact(url)!r}: {exc}") from None
        if not hostname and "host=" not in parts.query:
            raise ConfigError(
                f"invalid database URL {redact(url)!r}: no host (postgresql://HOST/DB)"
            )
        return DatabaseURL("postgresql", url)
    shown = redact(url)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise ConfigError(
        f"invalid database URL {shown!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def database_url(settings: Settings) -> DatabaseURL:
    """The control database: the configured URL, else SQLite in the data directory."""
    if settings.database_url:
        return parse_database_url(settings.database_url)
    return DatabaseURL("sqlite", str(settings.data_dir / "pjobs.db"))
