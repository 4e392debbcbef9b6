"""The control plane's records (owners, projects and their steps, API keys, audit events,
notifications) over the Store. Every operation runs on a `Tx`, so a handler changes
several records in one transaction: `with ControlPlane(store).tx() as tx: ...`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pjobs.store import Store

ProjectStatus = Literal["provisioning", "active", "suspended", "failed", "deprovisioned"]
KeyKind = Literal["publishable", "secret"]
KeyStatus = Literal["active", "expiring", "expired", "revoked"]


@dataclass(frozen=True)
class Owner:
    id: str
    email: str | None
    telegram_chat_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    owner_id: str
    region: str
    plan: str
    status: ProjectStatus
    suspension_reason: str | None
    protected: bool
    tenant_database: str | None
    failed_step: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Step:
    step: str
    outcome: Literal["done", "skipped"]
    detail: dict[str, Any]
    completed_at: datetime


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


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    actor: str
    action: str
    project_id: str | None
    target: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Notification:
    id: int
    created_at: datetime
    project_id: str | None
    recipient: str
    channel: Literal["log", "telegram"]
    address: str | None
    subject: str
    body: str
    state: Literal["pending", "sent", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


class Tx:
    """The control-plane operations, on one open transaction."""

    def __init__(self, store: Store, cursor: Any, now: datetime) -> None:
        self.store, self.cursor, self.now = store, cursor, now
        self._q = store.queries

    def _run(self, query: str, **params: Any) -> Any:
        converted = {
            key: self.store.ts(value) if isinstance(value, datetime) else value
            for key, value in params.items()
        }
        converted.setdefault("now", self.store.ts(self.now))
        self.cursor.execute(self._q[query], converted)
        return self.cursor

    def _all(self, query: str, **params: Any) -> list[Any]:
        return list(self._run(query, **params).fetchall())

    def _one(self, query: str, **params: Any) -> Any:
        rows = self._all(query, **params)
        return rows[0] if rows else None

    def _ts(self, value: Any) -> datetime | None:
        return self.store.from_ts_or_none(value)

    # -- owners ---------------------------------------------------------------------------

    def ensure_owner(self, owner_id: str) -> None:
        self._run("ensure_owner", id=owner_id, email=None, telegram_chat_id=None)

    def update_owner(
        self, owner_id: str, email: str | None = None, telegram_chat_id: str | None = None
    ) -> None:
        self.ensure_owner(owner_id)
        self._run("update_owner", id=owner_id, email=email, telegram_chat_id=telegram_chat_id)

    def _owner(self, row: Sequence[Any]) -> Owner:
        return Owner(row[0], row[1], row[2], self.store.from_ts(row[3]))

    def get_owner(self, owner_id: str) -> Owner | None:
        row = self._one("get_owner", id=owner_id)
        return None if row is None else self._owner(row)

    def list_owners(self, limit: int = 1000) -> list[Owner]:
        return [self._owner(row) for row in self._all("list_owners", limit=limit)]

    # -- projects -------------------------------------------------------------------------

    def _project(self, row: Sequence[Any]) -> Project:
        ts = self.store.from_ts
        return Project(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            bool(row[7]),
            row[8],
            row[9],
            row[10],
            ts(row[11]),
            ts(row[12]),
        )

    def insert_project(
        self, project_id: str, name: str, owner_id: str, region: str, plan: str
    ) -> bool:
        """Insert a project in `provisioning`; False if it already exists."""
        cursor = self._run(
            "insert_project", id=project_id, name=name, owner_id=owner_id, region=region, plan=plan
        )
        return bool(cursor.rowcount == 1)

    def get_project(self, project_id: str) -> Project | None:
        row = self._one("get_project", id=project_id)
        return None if row is None else self._project(row)

    def list_projects(
        self, status: str | None = None, owner_id: str | None = None, limit: int = 1000
    ) -> list[Project]:
        rows = self._all("list_projects", status=status, owner_id=owner_id, limit=limit)
        return [self._project(row) for row in rows]

    def set_project_status(
        self,
        project_id: str,
        status: ProjectStatus,
        failed_step: str | None = None,
        last_error: str | None = None,
    ) -> None:
        self._run(
            "set_project_status",
            id=project_id,
            status=status,
            failed_step=failed_step,
            last_error=last_error,
        )

    def set_tenant_database(self, project_id: str, location: str | None) -> None:
        self._run("set_tenant_database", id=project_id, tenant_database=location)

    def steps(self, project_id: str) -> dict[str, Step]:
        rows = self._all("project_steps", project_id=project_id)
        return {
            row[0]: Step(row[0], row[1], json.loads(row[2] or "{}"), self.store.from_ts(row[3]))
            for row in rows
        }

    def record_step(
        self,
        project_id: str,
        step: str,
        outcome: Literal["done", "skipped"],
        detail: dict[str, Any],
    ) -> None:
        self._run(
            "record_step",
            project_id=project_id,
            step=step,
            outcome=outcome,
            detail=json.dumps(detail),
        )

    # -- API keys -------------------------------------------------------------------------

    def _key(self, row: Sequence[Any]) -> ApiKey:
        ts, maybe = self.store.from_ts, self._ts
        return ApiKey(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            ts(row[6]),
            maybe(row[7]),
            maybe(row[8]),
            maybe(row[9]),
            row[10],
        )

    def insert_key(
        self, key_id: str, project_id: str, kind: KeyKind, version: int, prefix: str, digest: str
    ) -> None:
        self._run(
            "insert_key",
            id=key_id,
            project_id=project_id,
            kind=kind,
            version=version,
            prefix=prefix,
            secret_hash=digest,
        )

    def get_key(self, key_id: str) -> ApiKey | None:
        row = self._one("get_key", id=key_id)
        return None if row is None else self._key(row)

    def key_by_hash(self, digest: str) -> ApiKey | None:
        row = self._one("key_by_hash", secret_hash=digest)
        return None if row is None else self._key(row)

    def list_keys(self, project_id: str, status: str | None = None) -> list[ApiKey]:
        rows = self._all("list_keys", project_id=project_id, status=status)
        return [self._key(row) for row in rows]

    def last_key_version(self, project_id: str, kind: KeyKind) -> int:
        return int(self._one("last_key_version", project_id=project_id, kind=kind)[0])

    def retire_key(
        self,
        key_id: str,
        status: Literal["expiring", "revoked"],
        expires_at: datetime | None,
        replaced_by: str,
    ) -> bool:
        cursor = self._run(
            "retire_key", id=key_id, status=status, expires_at=expires_at, replaced_by=replaced_by
        )
        return bool(cursor.rowcount == 1)

    def revoke_project_keys(self, project_id: str) -> int:
        return int(self._run("revoke_project_keys", project_id=project_id).rowcount)

    def keys_due_to_expire(self) -> list[ApiKey]:
        return [self._key(row) for row in self._all("keys_due_to_expire")]

    def expire_keys(self) -> list[tuple[str, str]]:
        return [(row[0], row[1]) for row in self._all("expire_keys")]

    # -- audit ----------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        project_id: str | None,
        target: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event (the table refuses updates and deletes)."""
        self._run(
            "insert_audit",
            actor=actor,
            action=action,
            project_id=project_id,
            target=target,
            data=json.dumps(data or {}, sort_keys=True, default=str),
        )

    def list_audit(
        self, project_id: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditEvent]:
        rows = self._all("list_audit", project_id=project_id, since=since, limit=limit)
        return [
            AuditEvent(
                row[0],
                self.store.from_ts(row[1]),
                row[2],
                row[3],
                row[4],
                row[5],
                json.loads(row[6]),
            )
            for row in rows
        ]

    # -- notifications --------------------------------------------------------------------

    def _notification(self, row: Sequence[Any]) -> Notification:
        ts, maybe = self.store.from_ts, self._ts
        return Notification(
            row[0],
            ts(row[1]),
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            row[9],
            maybe(row[10]),
            maybe(row[11]),
            row[12],
        )

    def insert_notification(
        self,
        project_id: str | None,
        recipient: str,
        channel: Literal["log", "telegram"],
        address: str | None,
        subject: str,
        body: str,
    ) -> int:
        pending = channel != "log"
        row = self._one(
            "insert_notification",
            project_id=project_id,
            recipient=recipient,
            channel=channel,
            address=address,
            subject=subject,
            body=body,
            state="pending" if pending else "sent",
            next_attempt_at=self.now if pending else None,
            sent_at=None if pending else self.now,
        )
        return int(row[0])

    def due_notifications(self, limit: int = 100) -> list[Notification]:
        return [self._notification(row) for row in self._all("due_notifications", limit=limit)]

    def notification_attempted(
        self,
        notification_id: int,
        state: Literal["pending", "sent", "failed"],
        next_attempt_at: datetime | None,
        error: str | None,
    ) -> None:
        self._run(
            "notification_attempted",
            id=notification_id,
            state=state,
            next_attempt_at=next_attempt_at,
            sent_at=self.now if state == "sent" else None,
            last_error=error,
        )

    def list_notifications(
        self, project_id: str | None = None, state: str | None = None, limit: int = 1000
    ) -> list[Notification]:
        rows = self._all("list_notifications", project_id=project_id, state=state, limit=limit)
        return [self._notification(row) for row in rows]


class ControlPlane:
    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def tx(self, now: datetime, write: bool = True) -> Iterator[Tx]:
        with self.store.transaction(write) as cursor:
            yield Tx(self.store, cursor, now)
