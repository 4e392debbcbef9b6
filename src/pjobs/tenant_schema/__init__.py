"""The tenant schema: the SQL applied inside every new tenant database (built in, or the
file `tenants.schema_file` names)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from pjobs.errors import ConfigError

if TYPE_CHECKING:
    from pjobs.config import Settings


def load_tenant_schema(settings: Settings) -> tuple[str, str]:
    """The tenant schema SQL and where it came from ("built-in" or the file's path)."""
    path = settings.tenants.schema_file
    if path is None:
        return (resources.files("pjobs") / "tenant_schema" / "default.sql").read_text(), "built-in"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigError(f"cannot read tenants.schema_file {path}: {exc.strerror}") from None
