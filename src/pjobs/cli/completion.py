"""Values the shell completes beyond commands, options and choices (job states and other
fixed choices complete from their types): job types, event names, and the project and
API key ids of the control database when it is a local SQLite file that answers within
50 ms (otherwise nothing: a completion must never hang a prompt)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

DEADLINE_SECONDS = 0.05
MAX_CANDIDATES = 200


def job_types(ctx: Any, incomplete: str) -> list[str]:
    """Built-in job types, and those of plugins and handler_modules when they load."""
    from pjobs import handlers

    names = set(handlers.MODULES)
    try:
        from pjobs.queue.plugins import load_registry

        names.update(load_registry(_settings(ctx)).names())
    except Exception:  # a broken configuration completes the built-in types
        pass
    return sorted(n for n in names if n.startswith(incomplete))


def plans(ctx: Any, incomplete: str) -> list[str]:
    """The configured plans (the built-in ones when the configuration does not load)."""
    names = {"free", "pro"}
    try:
        names = set(_settings(ctx).quotas.plans)
    except Exception:
        pass
    return sorted(n for n in names if n.startswith(incomplete))


def profiles(ctx: Any, incomplete: str) -> list[str]:
    """The profiles of the config file (none when it does not load)."""
    try:
        from pjobs.settings.config import profiles_of

        names = profiles_of(ctx.find_root().params.get("config"))[1]
    except Exception:
        return []
    return sorted(n for n in names if n.startswith(incomplete))


def _settings(ctx: Any) -> Any:
    from pjobs.settings.config import load_settings

    root = ctx.find_root().params
    return load_settings(root.get("config"), root.get("profile"))


def event_names(ctx: Any, incomplete: str) -> list[str]:
    from pjobs.domain.webhooks import EVENTS

    return sorted(n for n in EVENTS if n.startswith(incomplete))


def project_ids(ctx: Any, incomplete: str) -> list[str]:
    from pjobs.ids import PROJECT_ID

    return [i for i in _ids(ctx, "complete_project_ids", incomplete) if PROJECT_ID.matches(i)]


def key_ids(ctx: Any, incomplete: str) -> list[str]:
    # only what the id rule admits reaches the shell: a row made by hand holding terminal
    # escapes or `$(…)` is never offered (zsh's script evaluates what it is given)
    from pjobs.ids import KEY_ID

    return [i for i in _ids(ctx, "complete_key_ids", incomplete) if KEY_ID.matches(i)]


def local_database(ctx: Any) -> Path | None:
    """The control database's file if it is SQLite, found as the settings would find it
    (--db, PJOBS_DATABASE_URL, the config file, the data folder), without loading them."""
    from pjobs.settings.locations import config_file_path, default_data_dir, read_toml

    root = ctx.find_root().params
    url = root.get("db") or os.environ.get("PJOBS_DATABASE_URL")
    data_dir = os.environ.get("PJOBS_DATA_DIR")
    if not url:
        path = config_file_path(root.get("config"))
        file = read_toml(path) if path is not None else {}
        profile = root.get("profile") or os.environ.get("PJOBS_PROFILE")
        chosen = file.get("profiles", {}).get(profile, {}) if profile else {}
        file = {**file, **(chosen if isinstance(chosen, dict) else {})}
        url = file.get("database_url")
        data_dir = data_dir or file.get("data_dir")
    if not url:
        return Path(data_dir) / "pjobs.db" if data_dir else default_data_dir() / "pjobs.db"
    if isinstance(url, str) and url.startswith("sqlite://"):
        from pjobs.settings.dburl import parse_database_url

        return Path(parse_database_url(url).target)
    return None  # PostgreSQL: not asked on every <TAB>


def _ids(ctx: Any, query: str, incomplete: str) -> list[str]:

    from pjobs.store.files import read_only
    from pjobs.store.queries import load_queries

    try:
        path = local_database(ctx)
        if path is None or not path.is_file():
            return []
        deadline = time.monotonic() + DEADLINE_SECONDS
        conn = read_only(path, timeout=DEADLINE_SECONDS)
        try:
            # returning non-zero interrupts the query once the deadline has passed
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
            rows = conn.execute(
                load_queries("sqlite")[query], {"prefix": incomplete, "limit": MAX_CANDIDATES}
            ).fetchall()
        finally:
            conn.close()
    except Exception:  # no database yet, locked, slow, not pjobs': nothing to offer
        return []
    return [str(row[0]) for row in rows]
