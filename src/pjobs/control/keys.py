"""API keys: their versions, statuses and expiry. Only a key's SHA-256 and display prefix
are stored; the key itself is shown once and never kept."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pjobs.control.noun import Noun

KeyKind = Literal["publishable", "secret"]
KeyStatus = Literal["active", "expiring", "expired", "revoked"]


@dataclass(frozen=True)
class ApiKey:
    id: str
    project_id: str
    kind: KeyKind
    version: int
    prefix: str
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    replaced_by: str | None


class Keys(Noun):
    def insert(
        self, key_id: str, project_id: str, kind: KeyKind, version: int, prefix: str, digest: str
    ) -> None:
        """Insert an active key by its digest (see `apikeys.issue`)."""
        self.tx.run(
            "insert_key",
            id=key_id,
            project_id=project_id,
            kind=kind,
            version=version,
            prefix=prefix,
            secret_hash=digest,
        )

    def get(self, key_id: str) -> ApiKey | None:
        """The key, or None."""
        return self.tx.record(ApiKey, "get_key", id=key_id)

    def by_hash(self, digest: str) -> ApiKey | None:
        """The key whose SHA-256 is `digest`, or None."""
        return self.tx.record(ApiKey, "key_by_hash", secret_hash=digest)

    def list(self, project_id: str, status: str | None = None) -> list[ApiKey]:
        """A project's keys by kind and version, optionally of one status."""
        return self.tx.records(ApiKey, "list_keys", project_id=project_id, status=status)

    def last_version(self, project_id: str, kind: KeyKind) -> int:
        """The highest version of a project's keys of this kind (0: none yet)."""
        found = self.tx.row("last_key_version", project_id=project_id, kind=kind)
        return int(found["version"]) if found else 0

    def retire(
        self,
        key_id: str,
        status: Literal["expiring", "revoked"],
        expires_at: datetime | None,
        replaced_by: str,
    ) -> bool:
        """Mark an active key replaced: expiring until `expires_at`, or revoked now."""
        cursor = self.tx.run(
            "retire_key", id=key_id, status=status, expires_at=expires_at, replaced_by=replaced_by
        )
        return bool(cursor.rowcount == 1)

    def revoke_all(self, project_id: str) -> int:
        """Revoke every active or expiring key of a project; how many."""
        return int(self.tx.run("revoke_project_keys", project_id=project_id).rowcount)

    def due_to_expire(self) -> builtins.list[ApiKey]:
        """Expiring keys whose grace has ended."""
        return self.tx.records(ApiKey, "keys_due_to_expire")

    def expire_due(self) -> builtins.list[tuple[str, str]]:
        """Mark expiring keys past their grace `expired`; (key id, project id) of each."""
        return [(row["id"], row["project_id"]) for row in self.tx.rows("expire_keys")]
