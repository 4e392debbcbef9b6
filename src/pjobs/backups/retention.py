"""Which completed backups retention lets go: a project keeps its `keep` newest and those
younger than `older_than`; with both, a backup goes when it is neither. A project's newest
completed backup is never let go."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.adapters import Integrations
    from pjobs.control import ControlPlane
    from pjobs.control.backups import Backup
    from pjobs.settings.config import Settings


def expired(
    backups: Iterable[Backup], keep: int | None, older_than: timedelta | None, now: datetime
) -> list[Backup]:
    """The completed backups to prune, oldest first (nothing if neither rule is given)."""
    if keep is None and older_than is None:
        return []
    by_project: dict[str, list[Backup]] = defaultdict(list)
    for backup in backups:
        if backup.state == "completed":
            by_project[backup.project_id].append(backup)
    chosen: list[Backup] = []
    for found in by_project.values():
        found.sort(key=lambda b: (b.created_at, b.id), reverse=True)
        for rank, backup in enumerate(found):
            if rank == 0:
                continue  # the newest stays, whatever the rules say
            beyond_count = keep is not None and rank >= keep
            too_old = older_than is not None and backup.created_at < now - older_than
            if (keep is None or beyond_count) and (older_than is None or too_old):
                chosen.append(backup)
    return sorted(chosen, key=lambda b: (b.created_at, b.id))


def prune(
    control: ControlPlane,
    integrations: Integrations,
    settings: Settings,
    chosen: list[Backup],
    now: datetime,
) -> None:
    """Mark each backup pruned, then remove its stored copy (a process killed in between
    leaves a file nobody lists, never a listed backup that is gone)."""

    for backup in chosen:
        with control.tx(now) as tx:
            tx.backups.prune(backup.id)
        locations = backup.locations or {}
        stored = [*locations.get("parts", []), *locations.get("manifest", [])]
        integrations.backup_storage(backup.storage).remove(stored)
