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
        export_backup,
        maintenance,
        noop,
        provision,
        restore_backup,
        resume,
        rotate_key,
        scan_abuse,
    )

    modules = (noop, provision, deprovision, rotate_key, check_usage_limits, auto_suspend)
    for module in (*modules, scan_abuse, resume, deliver_webhook, export_backup, restore_backup):
        registry.add(module.JOB_TYPE)
    for job_type in maintenance.JOB_TYPES:
        registry.add(job_type)
