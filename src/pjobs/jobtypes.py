"""Job types: a payload model, a handler and a retry policy under one name.

Built-in types register themselves from `pjobs.handlers`; more come from the
`pjobs.handlers` entry point group and from the `handler_modules` setting. Each of
those names a `register(registry)` function (or a module that has one).
"""

from __future__ import annotations

import importlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pjobs.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from pjobs.adapters import Adapters
    from pjobs.config import Settings
    from pjobs.store import Store
    from pjobs.timeutil import Clock

ENTRY_POINT_GROUP = "pjobs.handlers"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a job is tried, and how long it waits between tries."""

    max_attempts: int = 1
    base_delay: float = 2.0  # seconds before the second attempt (before jitter)
    max_delay: float = 3600.0

    def delay(self, failed_attempts: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(failed_attempts - 1, 0))
        jitter: float = (rng or random).uniform(0, ceiling / 2)
        return ceiling / 2 + jitter


ONE_SHOT = RetryPolicy(max_attempts=1)


class PermanentFailure(Exception):
    """Raised by a handler when trying again cannot help (bad data, refused for good)."""


class RetryAfter(Exception):
    """Raised by a handler to be tried again after `seconds` (e.g. an HTTP Retry-After)."""

    def __init__(self, seconds: float, message: str) -> None:
        super().__init__(message)
        self.seconds = seconds


@dataclass
class JobContext:
    """What a handler may use. Handlers reach for nothing else, so tests can pass fakes."""

    job_id: int
    attempt: int
    max_attempts: int
    store: Store
    clock: Clock
    settings: Settings
    adapters: Adapters
    # Secrets to show once to whoever runs the job inline; never stored, never logged.
    revealed: dict[str, str] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("pjobs.job"))

    @property
    def actor(self) -> str:
        """Who the audit trail says did it."""
        return f"job:{self.job_id}"

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def reveal(self, label: str, secret: str) -> None:
        self.revealed[label] = secret


Handler = Callable[[Any, JobContext], Any]


@dataclass(frozen=True)
class JobType:
    name: str
    payload: type[BaseModel]
    handler: Handler
    retry: RetryPolicy = ONE_SHOT
    queue: str = "default"
    description: str = ""


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def add(self, job_type: JobType) -> None:
        existing = self._types.get(job_type.name)
        if existing is not None and existing.handler is not job_type.handler:
            raise ConfigError(f"job type {job_type.name!r} is registered twice")
        self._types[job_type.name] = job_type

    def get(self, name: str) -> JobType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise InvalidInputError(f"unknown job type {name!r} (known: {known})") from None

    def find(self, name: str) -> JobType | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)


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
