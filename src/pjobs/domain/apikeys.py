"""API key format: `pjp_` (publishable) or `pjs_` (secret), 27 random base62 characters
(160 bits), and a 6-character base62 CRC32 checksum of what precedes it. The checksum
rejects a mistyped or truncated key without a database look-up (any one changed character
changes the CRC); only the SHA-256 of a key and its first characters are ever stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pjobs.errors import InvalidInputError

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.control.keys import ApiKey, KeyKind
    from pjobs.store import Store

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 27
CHECKSUM_LENGTH = 6
DISPLAY_LENGTH = 12  # "pjs_" and the first 8 random characters
PREFIXES: dict[str, Literal["publishable", "secret"]] = {"pjp_": "publishable", "pjs_": "secret"}
KIND_PREFIX = {kind: prefix for prefix, kind in PREFIXES.items()}
_SHAPE = re.compile(
    rf"^(pj[ps]_)([0-9A-Za-z]{{{RANDOM_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate(kind: Literal["publishable", "secret"]) -> str:
    body = KIND_PREFIX[kind] + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + checksum(body)


def check(key: str) -> Literal["publishable", "secret"]:
    """The key's kind; InvalidInputError if it is malformed or its checksum is wrong."""
    match = _SHAPE.match(key)
    if match is None:
        raise InvalidInputError(
            "not a pjobs API key: expected pjp_ or pjs_ followed by 33 letters and digits"
        )
    if checksum(match.group(1) + match.group(2)) != match.group(3):
        raise InvalidInputError("API key checksum does not match: the key is mistyped or damaged")
    return PREFIXES[match.group(1)]


def digest(key: str) -> str:
    """What is stored instead of the key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_LENGTH]


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def key_id_of_job(job_id: int) -> str:
    """The id of the key a rotation job makes when it was given none: the same on every
    attempt of that job (so it rotates once), another for every job."""
    import hashlib

    return "key_" + hashlib.sha256(f"pjobs-rotation:{job_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class IssuedKey:
    """A key just stored: its record's fields, and the secret to show once."""

    id: str
    project_id: str
    kind: KeyKind
    version: int
    prefix: str
    secret: str


def issue(tx: ControlTx, project_id: str, kind: KeyKind, key_id: str) -> IssuedKey:
    """Generate the project's next key of `kind` and store its digest, on `tx`."""
    secret = generate(kind)
    version = tx.keys.last_version(project_id, kind) + 1
    prefix = display_prefix(secret)
    tx.keys.insert(key_id, project_id, kind, version, prefix, digest(secret))
    return IssuedKey(key_id, project_id, kind, version, prefix, secret)


Verdict = Literal[
    "valid", "expiring", "expired", "revoked", "project_not_active", "unknown", "malformed"
]


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    message: str
    key: ApiKey | None = None


def status_now(key: ApiKey, now: datetime) -> str:
    """A key's status as `verify` judges it now: an expiring key past its grace is expired,
    before the sweep marks it so."""
    if key.status == "expiring" and key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return key.status


def active_successor(tx: ControlTx, key: ApiKey) -> str | None:
    """The key that is active now in a replaced key's place (following every rotation
    since), if there is one."""
    seen = {key.id}
    current = key
    while current.replaced_by and current.replaced_by not in seen:
        found = tx.keys.get(current.replaced_by)
        if found is None:
            return None
        if found.status == "active":
            return found.id
        seen.add(found.id)
        current = found
    return None


def verify(store: Store, key: str, now: datetime) -> Verification:
    """What a presented key is worth now. The checksum is checked before any look-up; a key
    past its expiry counts as expired even before the sweep has marked it."""
    from pjobs.control import ControlPlane

    try:
        check(key)
    except InvalidInputError as exc:
        return Verification("malformed", str(exc))
    with ControlPlane(store).tx(now, write=False) as tx:
        found = tx.keys.by_hash(digest(key))
        project = tx.projects.get(found.project_id) if found else None
        successor = active_successor(tx, found) if found else None
    if found is None or project is None:
        return Verification("unknown", "no such key")
    active_now = f"; the active key is {successor}" if successor else ""
    if found.status == "revoked":
        return Verification("revoked", f"key {found.id} is revoked{active_now}", found)
    if status_now(found, now) == "expired":
        return Verification("expired", f"key {found.id} expired{active_now}", found)
    if project.status != "active":
        return Verification(
            "project_not_active",
            f"key {found.id} is valid but project {project.id} is {project.status}",
            found,
        )
    if found.status == "expiring":
        return Verification(
            "expiring",
            f"key {found.id} is valid until {found.expires_at:%Y-%m-%dT%H:%M:%SZ}"
            f"{active_now or f'; replaced by {found.replaced_by}'}",
            found,
        )
    return Verification("valid", f"key {found.id} is valid", found)
