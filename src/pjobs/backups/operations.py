"""What an operator does with a stored backup: verify it (read back, every checksum and
the manifest checked, the content opened when the key is at hand) and restore it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pjobs.backups import archive
from pjobs.backups.setup import backup_key
from pjobs.backups.stream import CorruptBackup
from pjobs.errors import InvalidStateError

if TYPE_CHECKING:
    from pjobs.adapters import Integrations
    from pjobs.control.backups import Backup
    from pjobs.settings.config import Settings
    from pjobs.settings.dburl import DatabaseURL


def stored(backup: Backup) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and locations of a completed backup."""
    if backup.state != "completed" or backup.manifest is None or backup.locations is None:
        raise InvalidStateError(f"backup {backup.id} is {backup.state}: there is nothing to read")
    return backup.manifest, backup.locations


def verify(integrations: Integrations, settings: Settings, backup: Backup) -> dict[str, Any]:
    """Read the backup back from its storage: the manifest stored beside it must be the
    recorded one and every part must match its checksum (CorruptBackup, exit 65, naming
    what does not); the dump is opened too when it is not encrypted or the key is set."""
    manifest, locations = stored(backup)
    where = integrations.backup_storage(backup.storage)
    if archive.stored_manifest(where, locations) != manifest:
        raise CorruptBackup("the manifest stored beside the backup differs from the recorded one")
    for _ in archive.read_checked(where, locations["parts"]):  # names a damaged part
        pass
    key = backup_key(settings)
    if manifest.get("encryption") and key is None:
        content = "not opened: encrypted, and no backup key is set"
    else:
        for _ in archive.opened(where, manifest, locations, key):
            pass
        content = "opened: the dump matches its checksum"
    return {
        "backup_id": backup.id,
        "project_id": backup.project_id,
        "parts": len(locations["parts"]),
        "size": backup.size,
        "sha256": backup.sha256,
        "manifest": "matches",
        "content": content,
    }


def restore(
    integrations: Integrations,
    settings: Settings,
    backup: Backup,
    target: DatabaseURL,
    force: bool,
) -> dict[str, Any]:
    """Restore the backup into `target` (see `pjobs.backups.restore`) once every stored
    part has been read and checked; the tables there after, and those whose row counts
    differ from the manifest's (none, when all is well)."""
    from pjobs.backups.restore import restore as restore_dump

    manifest, locations = stored(backup)
    where = integrations.backup_storage(backup.storage)
    # Every part checked before any of it is run: a damaged or altered backup (its
    # checksums are in the control database) never reaches psql or SQLite.
    for _ in archive.read_checked(where, locations["parts"]):
        pass
    dump = archive.opened(where, manifest, locations, backup_key(settings))
    tables = restore_dump(dump, manifest, target, force, settings.backups)
    expected = {t["name"]: t["rows"] for t in manifest["tables"]}
    found = {t["name"]: t["rows"] for t in tables}
    differ = sorted(n for n in expected if found.get(n) != expected[n])
    return {
        "backup_id": backup.id,
        "into": target.redacted(),
        "tables": len(tables),
        "rows": sum(found.values()),
        "differ": differ,
    }
