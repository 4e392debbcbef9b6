"""`rotate_key`: replace an API key with its next version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pjobs import ids
from pjobs.control import ControlPlane
from pjobs.domain import apikeys
from pjobs.domain.events import announce
from pjobs.handlers.lifecycle import project_lock, seed
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType, Refused
from pjobs.queue.retry import ONE_SHOT
from pjobs.store import Store
from pjobs.timeutil import Clock


class RotateKeyPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(pattern=ids.KEY_ID.pattern, validation_alias=seed("key_id", "keyId"))
    grace_seconds: float = Field(86_400, ge=0, le=90 * 86_400)
    revoke_now: bool = False
    # Chosen when the job is enqueued (the command does), so running the job twice rotates
    # once; a job enqueued without one (in SQL, by the seed) gets one its id decides.
    new_key_id: str | None = Field(None, pattern=ids.KEY_ID.pattern)

    @model_validator(mode="before")
    @classmethod
    def _bare_key_id(cls, data: Any) -> Any:
        """The seed enqueued a rotation as the key's id alone."""
        return {"key_id": data} if isinstance(data, str) else data


def rotate_key(payload: RotateKeyPayload, context: JobContext) -> dict[str, Any]:
    """Creates the next version of the key (its secret revealed once to an inline caller);
    the old key becomes `expiring` until now + grace, or `revoked` at once with
    `revoke_now`. Writes the audit trail and notifies the project's owner. It holds the
    project's lifecycle lock, so it never interleaves with a deprovision."""
    with context.tx(write=False) as tx:
        key = tx.keys.get(payload.key_id)
    if key is None:
        raise Refused(f"no API key {payload.key_id}")
    if payload.new_key_id is None:
        chosen = apikeys.key_id_of_job(context.job_id)
        payload = payload.model_copy(update={"new_key_id": chosen})
    with project_lock(context, key.project_id):
        return _rotate(payload, context)


def _rotate(payload: RotateKeyPayload, context: JobContext) -> dict[str, Any]:
    assert payload.new_key_id is not None  # chosen by now
    with context.tx() as tx:
        now = tx.now
        old = tx.keys.get(payload.key_id)
        assert old is not None  # keys are never deleted
        if old.replaced_by == payload.new_key_id:  # this job already did it
            new = tx.keys.get(payload.new_key_id)
            assert new is not None
            return _result(old.id, new.id, new.version, new.prefix, old.status, None)
        if old.status != "active":
            detail = f" (replaced by {old.replaced_by})" if old.replaced_by else ""
            raise Refused(f"API key {old.id} is {old.status}{detail}: only active keys rotate")
        project = tx.projects.get(old.project_id)
        if project is None or project.status == "deprovisioned":
            raise Refused(f"project {old.project_id} is deprovisioned")
        new_key = apikeys.issue(tx, old.project_id, old.kind, payload.new_key_id)
        version, prefix = new_key.version, new_key.prefix
        status: Literal["expiring", "revoked"] = "revoked" if payload.revoke_now else "expiring"
        expires_at = now if payload.revoke_now else now + timedelta(seconds=payload.grace_seconds)
        tx.keys.retire(old.id, status, expires_at, payload.new_key_id)
        announce(
            context,
            tx,
            "key.revoked" if payload.revoke_now else "key.rotated",
            old.project_id,
            {
                "key_id": old.id,
                "kind": old.kind,
                "new_key_id": payload.new_key_id,
                "new_version": version,
                "new_prefix": prefix,
                "old_status": status,
                "old_expires_at": expires_at,
            },
            target=f"key:{old.id}",
        )
        ending = (
            "revoked now" if payload.revoke_now else f"valid until {expires_at:%Y-%m-%d %H:%M} UTC"
        )
        context.notifier.to_owner(
            tx,
            project.owner_id,
            project.id,
            f"API key rotated for {project.id}",
            f"The {old.kind} key {old.prefix}… was replaced by {prefix}…; the old one is {ending}.",
        )
        context.reveal(f"{old.kind}_key", new_key.secret)
    context.notifier.deliver_due()
    return _result(old.id, payload.new_key_id, version, prefix, status, expires_at)


def _result(
    old_id: str, new_id: str, version: int, prefix: str, old_status: str, expires_at: Any
) -> dict[str, Any]:
    return {
        "old_key_id": old_id,
        "old_status": old_status,
        "old_expires_at": expires_at,
        "new_key_id": new_id,
        "new_version": version,
        "new_prefix": prefix,
    }


def expire_keys(store: Store, clock: Clock, actor: str) -> list[tuple[str, str]]:
    """The sweep: marks `expiring` keys past their expiry `expired`, with an audit event
    each. Returns (key id, project id) of each key it expired."""
    with ControlPlane(store).tx(clock.now()) as tx:
        expired = tx.keys.expire_due()
        for key_id, project_id in expired:
            tx.audit.append(actor, "key.expired", project_id, f"key:{key_id}")
    return expired


JOB_TYPE = JobType(
    "rotate_key",
    RotateKeyPayload,
    rotate_key,
    ONE_SHOT,
    description="create the next version of an API key; the old one expires after a grace",
)
