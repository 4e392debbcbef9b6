"""The built-in job types."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.jobtypes import Registry


def register(registry: Registry) -> None:
    from pjobs.handlers import noop

    registry.add(noop.JOB_TYPE)
