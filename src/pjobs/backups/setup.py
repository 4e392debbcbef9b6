"""What a backup is made and read with, from configuration: the backup key (None: not
encrypted), whether it may leave the machine plain, and the dump of a tenant database.
The storage, by name, is an adapter (`Integrations.backup_storage`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pjobs.errors import ConfigError

if TYPE_CHECKING:
    from pjobs.backups.dump import Dump
    from pjobs.settings.config import Settings
    from pjobs.settings.dburl import DatabaseURL


REMOTE = ("telegram",)  # storages that hand the backup to someone else


def refuse_plain_remote(settings: Settings, where: str, key: bytes | None, plain: bool) -> None:
    """ConfigError (78) for a backup that would leave the machine unencrypted without an
    operator saying so (`plain`: --unencrypted) or `backups.allow_unencrypted_remote`."""
    if key is None and where in REMOTE and not (plain or settings.backups.allow_unencrypted_remote):
        raise ConfigError(
            f"a backup stored on {where} leaves the machine: set backups.key (or key_file) to "
            "encrypt it, or say --unencrypted (backups.allow_unencrypted_remote) to send it plain"
        )


def backup_key(settings: Settings) -> bytes | None:
    from pjobs.domain.secretbox import load_key

    return load_key(settings.backups.key, settings.backups.key_file, "backups.key")


def dump_database(database: DatabaseURL, fmt: str, settings: Settings) -> Dump:
    from pjobs.backups import dump

    if database.dialect == "postgresql":
        cfg = settings.backups
        return dump.postgres(database.target, fmt, cfg.pg_dump, cfg.compression_level)
    return dump.sqlite(Path(database.target), fmt)
