"""What a job reveals (`JobContext.reveal`: a new API key's secret), kept for the one who
asked when that is not this process: a job enqueued by `POST /api/jobs` names its token's
public key, and the secrets its attempt reveals are sealed to that key (X25519 with an
ephemeral key, HKDF-SHA256, AES-GCM) and stored until that token reads them, once. The
database holds nothing another party can open; pjobs derives the token's key pair from
the token itself."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from pjobs.control import ControlTx

INFO = b"pjobs reveal v1"


def private_key_of(token: str) -> X25519PrivateKey:
    """The key pair a token stands for (the same every time, for that token only)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return X25519PrivateKey.from_private_bytes(_derive(token.encode(), b"pjobs api token"))


def public_key_of(private: X25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def seal(public_key: str, secrets: dict[str, str]) -> str:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    recipient = base64.b64decode(public_key)
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    sender = base64.b64decode(public_key_of(ephemeral))
    key = _derive(shared, INFO + sender + recipient)
    sealed = AESGCM(key).encrypt(bytes(12), json.dumps(secrets).encode(), None)  # a key a message
    return base64.b64encode(sender + sealed).decode()


def open_sealed(private: X25519PrivateKey, sealed: str) -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = base64.b64decode(sealed)
    sender, body = data[:32], data[32:]
    recipient = base64.b64decode(public_key_of(private))
    shared = private.exchange(X25519PublicKey.from_public_bytes(sender))
    key = _derive(shared, INFO + sender + recipient)
    opened: dict[str, str] = json.loads(AESGCM(key).decrypt(bytes(12), body, None))
    return opened


def kept_for_who_asked(job_id: int, secrets: dict[str, str]) -> Any:
    """The write, made with the attempt's outcome, that keeps what it revealed for the
    token that enqueued the job (nothing when none did)."""
    revealed = dict(secrets)

    def keep(tx: ControlTx) -> None:
        public_key = tx.jobs.reveal_to(job_id)
        if public_key is not None:
            tx.jobs.keep_reveal(job_id, seal(public_key, revealed))

    return keep


def _derive(material: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)
