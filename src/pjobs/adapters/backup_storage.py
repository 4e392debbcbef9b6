"""Where backups are kept: a local directory, or a Telegram chat through the Bot API.

A stored backup is one or more parts, each recorded as a location with its size and
SHA-256 (`Location`); its manifest is stored beside it. Nothing is ever visible under a
final name before it is complete: a local file is written to a temporary name, flushed to
disk and renamed; Telegram parts only count once every part is up (a failed upload removes
what it sent)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from pjobs.errors import ConfigError, UnavailableError

if TYPE_CHECKING:
    from pjobs.adapters.telegram import TelegramBot

Location = dict[str, Any]  # index, size, sha256 and where: path, or file_id + message_id
OnPart = Callable[[Location], None]
READ_CHUNK = 1 << 20
log = logging.getLogger("pjobs.backups")


class BackupStorage(Protocol):
    name: str

    def store(
        self, project_id: str, name: str, chunks: Iterable[bytes], on_part: OnPart | None = None
    ) -> list[Location]:
        """Store the stream under `name`; the parts it was stored as. `on_part` hears of
        each part as it is stored, so what a killed process stored can be found."""

    def read(self, location: Location) -> Iterator[bytes]:
        """The bytes of one stored part."""

    def remove(self, locations: list[Location]) -> None:
        """Remove stored parts (those already gone are skipped)."""

    def sweep(self, project_id: str, name: str) -> None:
        """Remove what an interrupted write of `name` left behind."""


class LocalStorage:
    """Files under `root`/PROJECT/ (folders 0700, files 0600)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, project_id: str) -> Path:
        folder = self.root / project_id
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise UnavailableError(
                f"cannot create the backup folder {folder}: {exc.strerror}"
            ) from None
        return folder

    def store(
        self, project_id: str, name: str, chunks: Iterable[bytes], on_part: OnPart | None = None
    ) -> list[Location]:
        folder = self.folder(project_id)
        final = folder / name
        sha, size = hashlib.sha256(), 0
        try:
            fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=folder)
        except OSError as exc:
            raise UnavailableError(f"cannot write to {folder}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:  # mkstemp: O_EXCL, mode 0600
                for piece in chunks:
                    handle.write(piece)
                    sha.update(piece)
                    size += len(piece)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
            _sync_folder(folder)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise UnavailableError(f"cannot write {final}: {exc.strerror}") from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        stored = [{"index": 1, "path": str(final), "size": size, "sha256": sha.hexdigest()}]
        if on_part is not None:
            on_part(stored[0])
        return stored

    def read(self, location: Location) -> Iterator[bytes]:
        path = Path(location["path"])
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise UnavailableError(f"cannot read {path}: {exc.strerror}") from None
        with handle:
            while piece := handle.read(READ_CHUNK):
                yield piece

    def remove(self, locations: list[Location]) -> None:
        for location in locations:
            Path(location["path"]).unlink(missing_ok=True)

    def sweep(self, project_id: str, name: str) -> None:
        """Remove what an interrupted write of `name` left behind."""
        folder = self.root / project_id
        for leftover in folder.glob(f".{name}.*.partial"):
            leftover.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TelegramStorage:
    """Documents sent to one chat, in parts of at most `part_bytes` (each staged in a private
    temporary file, so memory does not grow with the backup)."""

    name = "telegram"

    def __init__(self, bot: TelegramBot, chat_id: str | None, part_bytes: int) -> None:
        if not chat_id:
            raise ConfigError("Telegram backup storage needs backups.telegram_chat_id")
        if not bot.configured:
            raise ConfigError("Telegram backup storage needs telegram.bot_token(_file)")
        self.bot, self.chat_id, self.part_bytes = bot, chat_id, part_bytes

    def store(
        self, project_id: str, name: str, chunks: Iterable[bytes], on_part: OnPart | None = None
    ) -> list[Location]:
        stored: list[Location] = []
        try:
            for index, (staged, size, sha) in enumerate(self._staged(chunks), start=1):
                staged.seek(0)
                sent = self.bot.send_document(self.chat_id, f"{name}.{index:03d}", staged)
                document = sent.get("document") or {}
                if "file_id" not in document:
                    raise UnavailableError("Telegram sendDocument returned no document")
                stored.append(
                    {
                        "index": index,
                        "file_id": document["file_id"],
                        "message_id": sent.get("message_id"),
                        "size": size,
                        "sha256": sha,
                    }
                )
                if on_part is not None:
                    on_part(stored[-1])
        except BaseException:
            self.remove(stored)
            raise
        return stored

    def _staged(self, chunks: Iterable[bytes]) -> Iterator[tuple[BinaryIO, int, str]]:
        """The stream cut into parts, each in a temporary file while it is sent."""
        pieces = iter(chunks)
        carry = b""
        while True:
            with tempfile.TemporaryFile(prefix="pjobs-part-") as staged:
                sha, size = hashlib.sha256(), 0
                while size < self.part_bytes:
                    piece = carry or next(pieces, b"")
                    carry = b""
                    if not piece:
                        break
                    room = self.part_bytes - size
                    piece, carry = piece[:room], piece[room:]
                    staged.write(piece)
                    sha.update(piece)
                    size += len(piece)
                if size == 0 and carry == b"":
                    return
                staged.flush()
                yield staged, size, sha.hexdigest()
                if size < self.part_bytes:
                    return

    def read(self, location: Location) -> Iterator[bytes]:
        return self.bot.download(location["file_id"])

    def remove(self, locations: list[Location]) -> None:
        from pjobs.adapters.telegram import TelegramError

        for location in locations:
            message_id = location.get("message_id")
            if message_id is None:
                continue
            with contextlib.suppress(TelegramError):  # already gone, or too old to delete
                self.bot.delete_message(self.chat_id, int(message_id))

    def sweep(self, project_id: str, name: str) -> None:
        """Nothing to sweep: parts of a failed upload are removed when it fails."""
