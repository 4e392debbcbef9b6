"""Where job types come from: the built-in ones in `pjobs.handlers`, the `pjobs.handlers`
entry point group of installed packages, and the `handler_modules` setting. Each names a
`register(registry)` function (or a module that has one)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pjobs.errors import ConfigError
from pjobs.queue.jobtypes import JobType, Registry

if TYPE_CHECKING:
    from pjobs.settings.config import Settings

ENTRY_POINT_GROUP = "pjobs.handlers"


def _call_register(target: Any, origin: str, registry: Registry) -> None:
    register = getattr(target, "register", target)
    if not callable(register):
        raise ConfigError(f"{origin} has no register(registry) function")
    register(registry)


class LoadingRegistry(Registry):
    """The job types, loaded as they are needed: a built-in type when it is first asked
    for (one module), everything (plugins and `handler_modules` too) the first time a name
    is not built in or every name is wanted. A command that runs one built-in job imports
    one handler module and scans no entry points."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings
        self._complete = False

    def _load(self, name: str | None) -> None:
        from pjobs import handlers

        if self._complete or (name is not None and name in self._types):
            return
        if name in handlers.MODULES:
            handlers.register(self, name)
            return
        self._complete = True
        handlers.register(self)
        load_plugins(self, self._settings)

    def load_all(self) -> None:
        """Load every job type now (serve: configuration errors before any work)."""
        self._load(None)

    def get(self, name: str) -> JobType:
        self._load(name)
        return super().get(name)

    def find(self, name: str) -> JobType | None:
        found = self._types.get(name)  # a worker asks for each job it runs
        if found is None:
            self._load(name)
            found = super().find(name)
        return found

    def names(self) -> list[str]:
        self._load(None)
        return super().names()


def load_plugins(registry: Registry, settings: Settings) -> None:
    """The job types of installed plugins (entry points) and configured modules."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = entry.load()
        except Exception as exc:
            raise ConfigError(
                f"cannot load job types from entry point {entry.value}: {exc}"
            ) from None
        _call_register(target, f"entry point {entry.value}", registry)
    for name in settings.handler_modules:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"cannot import handler module {name!r}: {exc}") from None
        _call_register(module, f"handler module {name!r}", registry)


def load_registry(settings: Settings) -> LoadingRegistry:
    """The built-in job types plus those of installed plugins and configured modules,
    each loaded when first needed."""
    return LoadingRegistry(settings)
