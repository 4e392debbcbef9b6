"""The byte stream of a backup: compressed (gzip) and, when a backup key is set, encrypted
before it leaves the machine, in chunks, so memory does not grow with the database.

An encrypted backup (format `PJOBSBK2`) is a 40-byte header, `PJOBSBK2` and a 32-byte
random salt, then chunks: a 4-byte big-endian length and an AES-256-GCM ciphertext of at
most CHUNK bytes. Each backup is sealed under a key of its own, HKDF-SHA256 of the backup
key with the salt (info: `pjobs backup v2 ` and the backup's id), so nonces never repeat
under one key however many backups a fleet makes: a chunk's nonce is its number (8 bytes,
big-endian, after 4 zero bytes). A chunk's associated data is the header, the backup's id
and `more` or `last`: a stream cut short, with chunks moved, with a header of another
backup, or stored under another backup's id, does not open.

Backups made before (`PJOBSBK1`: the backup key itself, a 4-byte random nonce prefix and
a chunk counter, `more`/`last` as associated data) are still read; none is made.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pjobs.errors import InvalidInputError

CHUNK = 1 << 20
MAGIC = b"PJOBSBK2"
MAGIC_V1 = b"PJOBSBK1"
SALT_BYTES = 32
TAG_BYTES = 16
LABELS = (b"more", b"last")


class CorruptBackup(InvalidInputError):
    """A stored backup that does not open, or does not match its checksum."""


def rechunk(data: Iterable[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """The same bytes in pieces of `size` (the last one shorter)."""
    buffer = bytearray()
    for piece in data:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def gzip(data: Iterable[bytes], level: int) -> Iterator[bytes]:
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    for piece in data:
        out = packer.compress(piece)
        if out:
            yield out
    yield packer.flush()


def gunzip(data: Iterable[bytes]) -> Iterator[bytes]:
    unpacker = zlib.decompressobj(31)
    try:
        for piece in data:
            out = unpacker.decompress(piece, CHUNK)
            while out:
                yield out
                out = unpacker.decompress(unpacker.unconsumed_tail, CHUNK)
        tail = unpacker.flush()
    except zlib.error as exc:
        raise CorruptBackup(f"the backup does not decompress: {exc}") from None
    if tail:
        yield tail
    if not unpacker.eof:
        raise CorruptBackup("the backup ends before its compressed data does")


def _aead(key: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def backup_key(key: bytes, salt: bytes, backup_id: str) -> bytes:
    """The key one backup is sealed under: HKDF-SHA256 of the backup key, the backup's
    random salt and its id."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    info = b"pjobs backup v2 " + backup_id.encode()
    return HKDF(hashes.SHA256(), 32, salt, info).derive(key)


def _nonce(counter: int, prefix: bytes = bytes(4)) -> bytes:
    return prefix + counter.to_bytes(8, "big")


def encrypt(data: Iterable[bytes], key: bytes, backup_id: str) -> Iterator[bytes]:
    """`data` sealed as a `PJOBSBK2` stream for the backup `backup_id`."""
    header = MAGIC + os.urandom(SALT_BYTES)
    aead = _aead(backup_key(key, header[len(MAGIC) :], backup_id))
    bound = header + backup_id.encode()
    yield header
    counter = 0
    pieces = rechunk(data, CHUNK)
    current = next(pieces, b"")
    while True:
        following = next(pieces, None)
        label = LABELS[following is None]
        sealed = aead.encrypt(_nonce(counter), current, bound + label)
        yield len(sealed).to_bytes(4, "big") + sealed
        if following is None:
            return
        current, counter = following, counter + 1


def decrypt(data: Iterable[bytes], key: bytes, backup_id: str) -> Iterator[bytes]:
    """The content of a sealed stream (`PJOBSBK2`, or the earlier `PJOBSBK1`) of the backup
    `backup_id`; CorruptBackup when it does not open."""
    from cryptography.exceptions import InvalidTag

    buffer = bytearray()
    pieces = iter(data)

    def take(count: int) -> bytes:
        while len(buffer) < count:
            piece = next(pieces, None)
            if piece is None:
                raise CorruptBackup("the encrypted backup ends early")
            buffer.extend(piece)
        taken = bytes(buffer[:count])
        del buffer[:count]
        return taken

    magic = take(len(MAGIC))
    if magic == MAGIC:
        salt = take(SALT_BYTES)
        aead = _aead(backup_key(key, salt, backup_id))
        bound, prefix = magic + salt + backup_id.encode(), bytes(4)
    elif magic == MAGIC_V1:
        aead, bound, prefix = _aead(key), b"", take(4)
    else:
        raise CorruptBackup("not an encrypted pjobs backup")
    counter = 0
    while True:
        length = int.from_bytes(take(4), "big")
        if length > CHUNK + TAG_BYTES:
            raise CorruptBackup("the encrypted backup is damaged")
        sealed = take(length)
        nonce = _nonce(counter, prefix)
        for label in LABELS:
            try:
                plain = aead.decrypt(nonce, sealed, bound + label)
            except InvalidTag:
                continue
            yield plain
            if label == b"last":
                if buffer or next(pieces, None):
                    raise CorruptBackup("the encrypted backup has bytes after its end")
                return
            break
        else:
            raise CorruptBackup(
                "the backup does not decrypt: damaged, or another backup key was used"
            )
        counter += 1


@dataclass
class Digest:
    """The size and SHA-256 of the bytes that went through it."""

    size: int = 0
    sha: object = field(default_factory=hashlib.sha256)

    def feed(self, data: Iterable[bytes]) -> Iterator[bytes]:
        for piece in data:
            self.sha.update(piece)  # type: ignore[attr-defined]
            self.size += len(piece)
            yield piece

    @property
    def hexdigest(self) -> str:
        return str(self.sha.hexdigest())  # type: ignore[attr-defined]
