"""What a command needs, built on first use: the settings from the global options, then
the `App` (the composition root) that opens the store and the rest.

Kept lazy so `pjobs --help` and tab completion never load pydantic or a database driver.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from pjobs.app import App
    from pjobs.control import ControlTx
    from pjobs.control.projects import Project
    from pjobs.settings.config import Settings

T = TypeVar("T")


@dataclass
class Runtime:
    db: str | None = None
    config: Path | None = None
    profile: str | None = None
    actor_flag: str | None = None
    quiet: bool = False
    verbose: int = 0
    no_color: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _app: App | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            from pjobs.settings.config import load_settings

            self._settings = load_settings(
                self.config, self.profile, database_url=self.db, actor=self.actor_flag
            )
        return self._settings

    def app(self, check_schema: bool = True, create_database: bool | None = None) -> App:
        """The composition root for these settings (the first call decides the schema check
        and whether a missing SQLite database may be created)."""
        if self._app is None:
            from pjobs.app import App

            self._app = App(
                self.settings(), check_schema=check_schema, create_database=create_database
            )
        return self._app

    def since(self, text: str | None) -> datetime | None:
        """The time a `--since` value names (an ISO time, or a duration ago); None if unset."""
        from pjobs.timeutil import parse_time

        return parse_time(text, self.app().clock) if text else None

    @contextmanager
    def control(self, write: bool = False) -> Iterator[ControlTx]:
        """One transaction on the control plane (read-only unless `write`)."""
        from pjobs.control import ControlPlane

        app = self.app()
        with ControlPlane(app.store).tx(app.clock.now(), write) as tx:
            yield tx

    def reader(self, query: Callable[[ControlTx], T]) -> Callable[[], T]:
        """`query`, to be run in a read-only transaction of its own each time it is called
        (a listing's page, again on every --watch)."""

        def read() -> T:
            with self.control() as tx:
                return query(tx)

        return read

    def project_filter(self, project_id: str | None) -> str | None:
        """A `--project` filter: the id of a project that exists (65 malformed, 4 unknown,
        as every command that names a project), or None for no filter."""
        if project_id is not None:
            self.project(project_id)
        return project_id

    def project(self, project_id: str) -> Project:
        """The project; InvalidInputError (65) for a malformed id, NotFoundError (4) for
        an unknown one."""
        from pjobs import ids
        from pjobs.errors import found

        ids.PROJECT_ID.check(project_id)
        with self.control() as tx:
            return found(tx.projects.get(project_id), "project", project_id)

    def actor(self) -> str:
        """Who asks, for the jobs and audit events of this command: the `actor` setting
        (`--actor`, `PJOBS_ACTOR`), else the operating-system user."""
        from pjobs import ids

        configured = self.settings().actor
        if configured:
            return configured
        try:
            import getpass

            user = getpass.getuser()
        except (OSError, KeyError):
            user = ""
        return user if ids.ACTOR.matches(user) else f"uid:{os.getuid()}"

    def note(self, text: str) -> None:
        """A note for the person at the terminal (stderr; -q silences it)."""
        if not self.quiet:
            from pjobs.cli.output import error

            error(f"note: {text}")

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None

    def configure_logging(self) -> None:
        level = logging.WARNING
        if self.quiet:
            level = logging.ERROR
        elif self.verbose == 1:
            level = logging.INFO
        elif self.verbose > 1:
            level = logging.DEBUG
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        if self.verbose < 2:  # the HTTP libraries log every request: only at -vv (redacted)
            for name in ("httpx", "httpcore"):
                logging.getLogger(name).setLevel(max(level, logging.WARNING))


def runtime(ctx: typer.Context) -> Runtime:
    obj: Any = ctx.find_root().obj
    if isinstance(obj, Runtime):
        return obj
    fresh = Runtime()  # a command invoked without the root callback
    ctx.find_root().obj = fresh
    return fresh
