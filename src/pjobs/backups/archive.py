"""A backup from dump to stored copy and back: the dump sealed (compressed, encrypted) and
stored in parts, its manifest beside it, every part read back and checked before the
backup counts; and, later, the parts read again with each checksum checked as it ends
(`read_checked`), for `backups verify` and `backups restore`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pjobs.backups import stream
from pjobs.backups.stream import CorruptBackup, Digest
from pjobs.errors import ConfigError, UnavailableError

if TYPE_CHECKING:
    from pjobs.adapters.backup_storage import BackupStorage, Location, OnPart
    from pjobs.backups.dump import Dump

MANIFEST_VERSION = 1
# How an encrypted backup is sealed (`pjobs.backups.stream`), as its manifest records it.
ENCRYPTION = {"cipher": "AES-256-GCM", "format": "PJOBSBK2", "kdf": "HKDF-SHA256"}


@dataclass(frozen=True)
class Made:
    """A backup stored and read back."""

    size: int
    sha256: str
    manifest: dict[str, Any]
    locations: dict[str, Any]  # parts, and the manifest's own location


def file_name(backup_id: str, dialect: str, fmt: str, encrypted: bool) -> str:
    """e.g. bk_….sql.gz, bk_….dump (pg_dump -Fc), bk_….sqlite.gz; `.enc` when encrypted."""
    body = {"sql": "sql.gz", "custom": "dump" if dialect == "postgresql" else "sqlite.gz"}[fmt]
    return f"{backup_id}.{body}" + (".enc" if encrypted else "")


def key_id(key: bytes) -> str:
    """Names a backup key without giving it away (which key opens which backup)."""
    return hashlib.sha256(b"pjobs backup key " + key).hexdigest()[:16]


def make(
    dump: Dump,
    storage: BackupStorage,
    meta: dict[str, Any],
    level: int,
    key: bytes | None,
    on_part: OnPart | None = None,
) -> Made:
    """Dump → compress → encrypt → store in parts; the manifest beside; every part read
    back and its checksum compared (CorruptBackup if one differs)."""
    project_id, backup_id = meta["project_id"], meta["backup_id"]
    fmt = meta["format"]
    name = file_name(backup_id, dump.dialect, fmt, key is not None)
    storage.sweep(project_id, name)
    packed, stored = Digest(), Digest()
    compression = dump.compression or "gzip"
    data = dump.chunks if dump.compression else stream.gzip(dump.chunks, level)
    data = packed.feed(data)
    sealed = stream.rechunk(stream.encrypt(data, key, backup_id) if key else data)
    try:
        parts = storage.store(project_id, name, stored.feed(sealed), on_part)
    finally:
        dump.close()
    manifest = {
        "pjobs_backup": MANIFEST_VERSION,
        **meta,
        "dialect": dump.dialect,
        "file": name,
        "compression": compression,
        "encryption": None if key is None else ENCRYPTION | {"key_id": key_id(key)},
        "size": stored.size,
        "sha256": stored.hexdigest,
        "content": {"size": packed.size, "sha256": packed.hexdigest},  # decrypted
        "parts": [{k: p[k] for k in ("index", "size", "sha256")} for p in parts],
        "tables": dump.tables,
        "tools": dump.tools,
    }
    written: list[Location] = []
    try:
        for part in parts:
            for _ in read_checked(storage, [part], len(parts)):
                pass
        text = manifest_bytes(manifest)
        written = storage.store(project_id, f"{backup_id}.manifest.json", [text])
        if read_all(storage, written) != text:
            raise CorruptBackup("the stored manifest reads back different")
    except CorruptBackup as exc:  # the storage lost or changed it: worth another attempt
        storage.remove(parts + written)
        raise UnavailableError(f"the stored copy does not read back as written: {exc}") from None
    except BaseException:
        storage.remove(parts + written)
        raise
    return Made(stored.size, stored.hexdigest, manifest, {"parts": parts, "manifest": written})


def read_all(storage: BackupStorage, parts: list[Location]) -> bytes:
    """A small stored file (a manifest), whole."""
    return b"".join(piece for part in parts for piece in storage.read(part))


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=_json_default) + "\n").encode()


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def read_checked(
    storage: BackupStorage, parts: list[Location], total: int | None = None
) -> Iterator[bytes]:
    """The stored bytes, part after part; CorruptBackup naming the part whose size or
    SHA-256 is not the recorded one, raised as soon as that part has been read (before a
    consumer sees the end of the stream)."""
    count = total or len(parts)
    for part in parts:
        digest = Digest()
        yield from digest.feed(storage.read(part))
        if digest.size != part["size"] or digest.hexdigest != part["sha256"]:
            raise CorruptBackup(
                f"part {part['index']} of {count} does not match its checksum "
                f"(SHA-256 {digest.hexdigest[:12]}…, {digest.size} bytes; recorded "
                f"{str(part['sha256'])[:12]}…, {part['size']} bytes)"
            )


def opened(
    storage: BackupStorage, manifest: dict[str, Any], locations: dict[str, Any], key: bytes | None
) -> Iterator[bytes]:
    """The dump, from the stored parts: each part checked, then decrypted (its content
    checked against the recorded checksum at the end) and decompressed."""
    encryption = manifest.get("encryption")
    if encryption and key is None:
        raise ConfigError(
            f"backup {manifest['backup_id']} is encrypted: set backups.key or backups.key_file "
            f"to the key it was made with (key id {encryption['key_id']})"
        )
    if encryption and key is not None and key_id(key) != encryption["key_id"]:
        raise ConfigError(
            f"backup {manifest['backup_id']} was encrypted with another key (key id "
            f"{encryption['key_id']}; the configured one is {key_id(key)})"
        )
    data: Iterable[bytes] = read_checked(storage, locations["parts"])
    if encryption:
        data = stream.decrypt(data, key, manifest["backup_id"])  # type: ignore[arg-type]
    content = Digest()
    data = content.feed(data)
    yield from stream.gunzip(data) if manifest["compression"] == "gzip" else data
    recorded = manifest["content"]
    if content.size != recorded["size"] or content.hexdigest != recorded["sha256"]:
        raise CorruptBackup("the backup's content does not match the checksum it was made with")


def stored_manifest(storage: BackupStorage, locations: dict[str, Any]) -> dict[str, Any]:
    """The manifest stored beside the backup."""
    data = read_all(storage, locations["manifest"])
    try:
        found: dict[str, Any] = json.loads(data)
    except ValueError:
        raise CorruptBackup("the stored manifest is not JSON") from None
    return found
