"""The files of a SQLite control database: made private (0600, in a 0700 folder), and the
signs that one existed where it is now missing."""

from __future__ import annotations

import os
from pathlib import Path

PJOBS_DATA = ("tenants", "backups", "webhooks.key")  # what pjobs keeps beside its database


def create_private_file(path: Path) -> None:
    """Create `path` (and its folder) readable by its owner only, if it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def used_before(path: Path) -> bool:
    """Whether what is beside a (missing) database file says it existed: its journal
    files, or the data pjobs keeps next to its database."""
    beside = (f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal")
    return any((path.parent / name).exists() for name in (*beside, *PJOBS_DATA))
