"""The built-in job types."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.jobtypes import Registry


def register(registry: Registry) -> None:
    from pjobs.handlers import deprovision, noop, provision, rotate_key

    for module in (noop, provision, deprovision, rotate_key):
        registry.add(module.JOB_TYPE)
