"""The built-in job types."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.jobtypes import Registry


def register(registry: Registry) -> None:
    from pjobs.handlers import (
        auto_suspend,
        check_usage_limits,
        deliver_webhook,
        deprovision,
        noop,
        provision,
        resume,
        rotate_key,
        scan_abuse,
    )

    for module in (
        noop,
        provision,
        deprovision,
        rotate_key,
        check_usage_limits,
        auto_suspend,
        deliver_webhook,
        scan_abuse,
        resume,
    ):
        registry.add(module.JOB_TYPE)
