"""Keys, and secrets kept at rest (webhook signing secrets): sealed with AES-GCM under a key from
configuration (`webhooks.secret_key`, `webhooks.secret_key_file`) or, failing both, a key
file made once (0600) in the data directory. A dump of the control database alone cannot
open them; a sealed secret is bound to its owner's id, so it cannot be moved either."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from functools import cache
from typing import TYPE_CHECKING

from pjobs.errors import ConfigError
from pjobs.settings.secretfile import read_limited, warn_if_open

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import SecretStr

    from pjobs.settings.config import Settings

KEY_FILE = "webhooks.key"
KEY_BYTES = 32
NONCE_BYTES = 12


def load_key(value: SecretStr | None, file: Path | None, where: str) -> bytes | None:
    """A 32-byte key from its setting (base64) or the file a setting names; None if
    neither is set."""
    if value is not None:
        return _decode_key(value.get_secret_value(), where)
    if file is not None:
        return _read_key_file(file, f"{where}_file")
    return None


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{where} must be the base64 of {KEY_BYTES} random bytes")
    return key


def _read_key_file(path: Path, where: str) -> bytes:
    text = read_limited(path, 1024, where).decode("ascii", errors="replace")
    warn_if_open(path, where)
    return _decode_key(text, f"{where} {path}")


class SecretBox:
    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings, create: bool) -> SecretBox:
        """The configured key; else the data directory's key file, made now if `create`."""
        cfg = settings.webhooks
        key = load_key(cfg.secret_key, cfg.secret_key_file, "webhooks.secret_key")
        if key is not None:
            return _box(key)
        path = settings.data_dir / KEY_FILE
        if not path.exists():
            if not create:
                raise ConfigError(
                    f"no webhook secret key: set webhooks.secret_key (every machine of a "
                    f"PostgreSQL deployment needs the same one), or create {path}"
                )
            _create_key_file(path)
        return _box(_read_key_file(path, "webhook secret key file"))

    def seal(self, secret: str, bound_to: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), bound_to.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str, bound_to: str) -> str:
        from cryptography.exceptions import InvalidTag

        raw = base64.b64decode(sealed)
        try:
            return self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode()
            ).decode()
        except InvalidTag:
            raise ConfigError(
                "cannot open a webhook signing secret: the webhook secret key is not the one "
                "it was sealed with"
            ) from None


@cache
def _box(key: bytes) -> SecretBox:
    """One box a key (every delivery opens a secret)."""
    return SecretBox(key)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
