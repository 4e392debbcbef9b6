"""The sealed stream of an encrypted backup (`pjobs.backups.stream`): a key of its own for
every backup, so no (key, nonce) pair repeats across a fleet's backups; bound to its
header and its backup's id; and backups made in the earlier format still open."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from pjobs.backups import stream
from pjobs.backups.stream import CorruptBackup

MASTER = bytes(range(32))


def sealed(data: bytes, backup_id: str = "bk_0001", key: bytes = MASTER) -> bytes:
    return b"".join(stream.encrypt([data], key, backup_id))


def opened(blob: bytes, backup_id: str = "bk_0001", key: bytes = MASTER) -> bytes:
    return b"".join(stream.decrypt([blob], key, backup_id))


def test_100000_backups_never_seal_under_a_key_and_nonce_used_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every AES-GCM key and nonce `encrypt` uses, recorded over 100,000 backups of two
    chunks each under one backup key (and one backup id: the worst case)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    used: list[tuple[bytes, bytes]] = []
    keys: set[bytes] = set()

    class Recording:
        def __init__(self, key: bytes) -> None:
            self.key, self.real = key, AESGCM(key)
            keys.add(key)

        def encrypt(self, nonce: bytes, data: bytes, associated: bytes) -> bytes:
            used.append((self.key, nonce))
            return self.real.encrypt(nonce, data, associated)

    monkeypatch.setattr(stream, "_aead", Recording)
    monkeypatch.setattr(stream, "CHUNK", 4)
    for _ in range(100_000):
        for _piece in stream.encrypt([b"12345678"], MASTER, "bk_same"):
            pass
    assert len(used) == 200_000
    assert len(set(used)) == len(used)  # no (key, nonce) pair twice
    assert len(keys) == 100_000 and MASTER not in keys  # a fresh key every backup


def test_a_stream_opens_with_its_key_and_its_backup_id_only() -> None:
    data = os.urandom(3 * stream.CHUNK + 17)
    blob = sealed(data)
    assert blob.startswith(b"PJOBSBK2") and data[:64] not in blob
    assert opened(blob) == data
    with pytest.raises(CorruptBackup, match="does not decrypt"):
        opened(blob, backup_id="bk_0002")  # the same bytes stored as another backup
    with pytest.raises(CorruptBackup, match="does not decrypt"):
        opened(blob, key=bytes(32))


def test_a_changed_header_or_a_stream_cut_short_does_not_open() -> None:
    data = os.urandom(2 * stream.CHUNK + 5)
    blob = sealed(data)
    other = sealed(data)
    swapped = other[:40] + blob[40:]  # another backup's header (its salt) on this stream
    with pytest.raises(CorruptBackup):
        opened(swapped)
    first_chunk = 40 + 4 + stream.CHUNK + stream.TAG_BYTES
    with pytest.raises(CorruptBackup, match=r"ends early|does not decrypt"):
        opened(blob[:first_chunk])
    flipped = bytearray(blob)
    flipped[10] ^= 1  # a bit of the salt
    with pytest.raises(CorruptBackup):
        opened(bytes(flipped))


def _v1_stream(data: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    """What pjobs wrote before PJOBSBK2 (its format, as README described it)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead: Any = AESGCM(key)
    prefix = os.urandom(4)
    yield b"PJOBSBK1" + prefix
    pieces = list(stream.rechunk(data))
    for counter, piece in enumerate(pieces):
        label = b"last" if counter == len(pieces) - 1 else b"more"
        body = aead.encrypt(prefix + counter.to_bytes(8, "big"), piece, label)
        yield len(body).to_bytes(4, "big") + body


def test_a_backup_made_in_the_earlier_format_still_opens() -> None:
    data = os.urandom(stream.CHUNK + 99)
    blob = b"".join(_v1_stream([data], MASTER))
    assert opened(blob, backup_id="bk_whatever") == data
    with pytest.raises(CorruptBackup):
        opened(blob[:-1])
