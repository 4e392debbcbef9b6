"""The byte stream of a backup: compressed (gzip) and, when a backup key is set, encrypted
before it leaves the machine, in chunks, so memory does not grow with the database.

Encrypted backups are `PJOBSBK1`, a 4-byte random nonce prefix, then chunks: a 4-byte
big-endian length and an AES-GCM ciphertext of at most CHUNK bytes, under the nonce
prefix + an 8-byte counter, with `more` or `last` as associated data — a stream cut
short, or with chunks moved, does not open."""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pjobs.errors import InvalidInputError

CHUNK = 1 << 20
MAGIC = b"PJOBSBK1"
TAG_BYTES = 16


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


def encrypt(data: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    aead = _aead(key)
    prefix = os.urandom(4)
    yield MAGIC + prefix
    counter = 0
    pieces = rechunk(data)
    current = next(pieces, b"")
    while True:
        following = next(pieces, None)
        label = b"last" if following is None else b"more"
        sealed = aead.encrypt(prefix + counter.to_bytes(8, "big"), current, label)
        yield len(sealed).to_bytes(4, "big") + sealed
        if following is None:
            return
        current, counter = following, counter + 1


def decrypt(data: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    from cryptography.exceptions import InvalidTag

    aead = _aead(key)
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

    if take(len(MAGIC)) != MAGIC:
        raise CorruptBackup("not an encrypted pjobs backup")
    prefix, counter = take(4), 0
    while True:
        length = int.from_bytes(take(4), "big")
        if length > CHUNK + TAG_BYTES:
            raise CorruptBackup("the encrypted backup is damaged")
        sealed = take(length)
        nonce = prefix + counter.to_bytes(8, "big")
        for label in (b"more", b"last"):
            try:
                plain = aead.decrypt(nonce, sealed, label)
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
