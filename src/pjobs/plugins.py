"""Where job types come from: the built-in ones in `pjobs.handlers`, the `pjobs.handlers`
entry point group of installed packages, and the `handler_modules` setting. Each names a
`register(registry)` function (or a module that has one)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pjobs.errors import ConfigError
from pjobs.jobtypes import Registry

if TYPE_CHECKING:
    from pjobs.config import Settings

ENTRY_POINT_GROUP = "pjobs.handlers"


def _call_register(target: Any, origin: str, registry: Registry) -> None:
    register = getattr(target, "register", target)
    if not callable(register):
        raise ConfigError(f"{origin} has no register(registry) function")
    register(registry)


def load_registry(settings: Settings) -> Registry:
    """The built-in job types plus those of installed plugins and configured modules."""
    from pjobs import handlers

    registry = Registry()
    handlers.register(registry)
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
    return registry
