"""The tenant schema: the SQL applied inside every new tenant database (built in, or the
file `tenants.schema_file` names)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from pjobs.settings.secretfile import read_text_limited

SCHEMA_LIMIT = 16 * 1024 * 1024

if TYPE_CHECKING:
    from pjobs.settings.config import Settings


def load_tenant_schema(settings: Settings) -> tuple[str, str]:
    """The tenant schema SQL and where it came from ("built-in" or the file's path)."""
    path = settings.tenants.schema_file
    if path is None:
        return (resources.files("pjobs") / "tenant_schema" / "default.sql").read_text(), "built-in"
    return read_text_limited(path, SCHEMA_LIMIT, "tenants.schema_file"), str(path)
