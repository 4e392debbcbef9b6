"""What a command needs, built on first use: settings, store, registry, queue.

Kept lazy so `pjobs --help` and tab completion never load pydantic or a database driver.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from pjobs.config import Settings
    from pjobs.control import Project, Tx
    from pjobs.jobtypes import Registry
    from pjobs.queue import JobQueue
    from pjobs.store import Store
    from pjobs.timeutil import Clock


@dataclass
class Runtime:
    db: str | None = None
    config: Path | None = None
    quiet: bool = False
    verbose: int = 0
    no_color: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _registry: Registry | None = field(default=None, repr=False)
    _clock: Clock | None = field(default=None, repr=False)
    _queue: JobQueue | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            from pjobs.config import load_settings

            self._settings = load_settings(self.config, database_url=self.db)
        return self._settings

    def clock(self) -> Clock:
        if self._clock is None:
            from pjobs.timeutil import SystemClock

            self._clock = SystemClock()
        return self._clock

    def store(self, check_schema: bool = True, pool_size: int = 4) -> Store:
        if self._store is None:
            from pjobs.config import database_url
            from pjobs.store import open_store

            self._store = open_store(
                database_url(self.settings()), pool_size=pool_size, check_schema=check_schema
            )
        return self._store

    def registry(self) -> Registry:
        if self._registry is None:
            from pjobs.jobtypes import load_registry

            self._registry = load_registry(self.settings())
        return self._registry

    def queue(self, pool_size: int = 4) -> JobQueue:
        if self._queue is None:
            from pjobs.queue import JobQueue

            registry = self.registry()  # config errors before any connection is made
            self._queue = JobQueue(
                self.store(pool_size=pool_size), registry, self.settings(), self.clock()
            )
        return self._queue

    @contextmanager
    def control(self, write: bool = False) -> Iterator[Tx]:
        """One transaction on the control plane (read-only unless `write`)."""
        from pjobs.control import ControlPlane

        with ControlPlane(self.queue().store).tx(self.clock().now(), write) as tx:
            yield tx

    def project(self, project_id: str) -> Project:
        """The project, or NotFoundError (exit 4)."""
        from pjobs.errors import NotFoundError

        with self.control() as tx:
            project = tx.get_project(project_id)
        if project is None:
            raise NotFoundError(f"no project {project_id}")
        return project

    def note(self, text: str) -> None:
        """A note for the person at the terminal (stderr; -q silences it)."""
        if not self.quiet:
            sys.stderr.write(f"pjobs: note: {text}\n")

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None
        if self._store is not None:
            self._store.close()
            self._store = None

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


def runtime(ctx: typer.Context) -> Runtime:
    obj: Any = ctx.find_root().obj
    if isinstance(obj, Runtime):
        return obj
    fresh = Runtime()  # a command invoked without the root callback
    ctx.find_root().obj = fresh
    return fresh
