"""The built-in job types: a module each, a handler a function of its validated payload and
its context (`pjobs.queue.context`), registered in `MODULES` below (the one place a job
type is added), imported when it is first needed."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.queue.jobtypes import JobType, Registry

# job type -> the module below that defines it (as JOB_TYPE, or among its JOB_TYPES)
MODULES = {
    "noop": "noop",
    "provision_project": "provision",
    "deprovision_project": "deprovision",
    "rotate_key": "rotate_key",
    "check_usage_limits": "check_usage_limits",
    "auto_suspend": "auto_suspend",
    "scan_abuse": "scan_abuse",
    "resume_project": "resume",
    "deliver_webhook": "deliver_webhook",
    "export_backup": "export_backup",
    "restore_backup": "restore_backup",
    "expire_keys": "maintenance",
    "send_notifications": "maintenance",
    "queue_maintenance": "maintenance",
}


def job_types(module_name: str) -> tuple[JobType, ...]:
    module = importlib.import_module(f"pjobs.handlers.{module_name}")
    return tuple(getattr(module, "JOB_TYPES", None) or (module.JOB_TYPE,))


def register(registry: Registry, name: str | None = None) -> None:
    """Add the built-in job type `name` (and those defined beside it), or all of them."""
    modules = dict.fromkeys(MODULES.values()) if name is None else [MODULES[name]]
    for module_name in modules:
        for job_type in job_types(module_name):
            registry.add(job_type)
