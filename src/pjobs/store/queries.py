"""Named SQL: `-- name: NAME` blocks in `sql/<dialect>/*.sql`, and numbered migrations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
# `:name` parameters (not `::type` casts) in the shared queries of sql/common.
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")
_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.sql$")
# `/*include NAME*/`: a fragment of SQL written once (a filter several queries share).
_INCLUDE = re.compile(r"/\*include (\w+)\*/")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def to_psycopg(sql: str) -> str:
    """Shared SQL uses `:name`; psycopg wants `%(name)s` and a literal `%` doubled."""
    return _PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """Every named query of a dialect, by name: its own folder plus sql/common.

    A name lives in one place only: a query written once in sql/common serves both
    dialects; one whose SQL differs is written in each dialect's folder. A query may
    include a fragment by name (`/*include NAME*/`), once it is in the dialect's syntax.
    """
    queries: dict[str, str] = {}
    root = resources.files("pjobs.store") / "sql"
    for folder in (root / dialect, root / "common"):
        shared = folder.name == "common"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".sql"):
                continue
            parts = _NAME.split(entry.read_text(encoding="utf-8"))
            for name, body in zip(parts[1::2], parts[2::2], strict=True):
                if name in queries:
                    raise RuntimeError(f"query {name!r} is defined twice for {dialect}")
                sql = body.strip().rstrip(";")
                queries[name] = to_psycopg(sql) if shared and dialect == "postgresql" else sql
    return {
        name: _INCLUDE.sub(lambda m: _fragment(queries[m.group(1)]), sql)
        for name, sql in queries.items()
    }


def _fragment(sql: str) -> str:
    """A fragment as it is included: without its comment lines, in parentheses."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return "(" + "\n".join(lines) + ")"


@cache
def load_migrations(dialect: str) -> tuple[Migration, ...]:
    folder = resources.files("pjobs.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(
                Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8"))
            )
    return tuple(sorted(found, key=lambda m: m.version))
