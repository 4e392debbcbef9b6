"""The Telegram Bot API (`sendMessage`, `sendDocument`, `getFile` and its downloads,
`deleteMessage`), at a configurable base URL so a self-hosted Bot API server works. The
token is part of every URL, so no URL ever goes into an error message."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from pjobs.redaction import redact, remember
from pjobs.settings.secretfile import read_secret

if TYPE_CHECKING:
    import httpx

    from pjobs.settings.config import Settings


class TelegramError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TelegramBot:
    def __init__(self, settings: Settings, http: Callable[[], httpx.Client]) -> None:
        self._settings = settings.telegram
        self._http = http  # asked for only when a message is really sent

    def token(self) -> str | None:
        token = read_secret(
            self._settings.bot_token, self._settings.bot_token_file, "the Telegram bot token"
        )
        if token is not None:
            remember(token)  # hidden from every error and log line, in any form
        return token

    @property
    def configured(self) -> bool:
        return self.token() is not None

    def _url(self, prefix: str, path: str) -> str:
        """`BASE/{prefix}{token}/{path}` (the path as given: nothing in it is a template)."""
        token = self.token()
        if token is None:
            raise TelegramError("no Telegram bot token is configured")
        return f"{self._settings.api_base_url.rstrip('/')}/{prefix}{token}/{path}"

    def call(
        self, method: str, payload: dict[str, Any], files: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A Bot API method; JSON, or a multipart form when files go with it."""
        import httpx

        url = self._url("bot", method)
        try:
            if files is None:
                response = self._http().post(url, json=payload, timeout=self._settings.timeout)
            else:
                response = self._http().post(
                    url, data=payload, files=files, timeout=self._settings.upload_timeout
                )
        except httpx.HTTPError as exc:
            raise TelegramError(f"Telegram {method}: {type(exc).__name__}") from None
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200 and data.get("ok"):
            return data
        retry_after = (data.get("parameters") or {}).get("retry_after")
        description = redact(str(data.get("description") or ""))[:200]
        raise TelegramError(
            f"Telegram {method}: HTTP {response.status_code} {description}".strip(),
            float(retry_after) if retry_after is not None else None,
        )

    def send_message(self, chat_id: str, text: str) -> None:
        self.call("sendMessage", {"chat_id": chat_id, "text": text})

    def send_document(self, chat_id: str, name: str, content: BinaryIO) -> dict[str, Any]:
        """Upload a file (streamed); the Message with its document (file_id, …)."""
        sent = self.call(
            "sendDocument",
            {"chat_id": chat_id, "disable_notification": "true"},
            files={"document": (name, content, "application/octet-stream")},
        )
        result: dict[str, Any] = sent["result"]
        return result

    def download(self, file_id: str) -> Iterator[bytes]:
        """A stored file's bytes (getFile, then the file URL), in chunks."""
        import httpx

        found = self.call("getFile", {"file_id": file_id})["result"]
        url = self._url("file/bot", quote(str(found["file_path"]), safe="/"))
        try:
            with self._http().stream("GET", url, timeout=self._settings.upload_timeout) as got:
                if got.status_code != 200:
                    raise TelegramError(f"Telegram file download: HTTP {got.status_code}")
                yield from got.iter_bytes(1 << 20)
        except httpx.HTTPError as exc:
            raise TelegramError(f"Telegram file download: {type(exc).__name__}") from None

    def delete_message(self, chat_id: str, message_id: int) -> None:
        self.call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})
