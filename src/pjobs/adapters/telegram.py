"""The Telegram Bot API (`sendMessage`), at a configurable base URL so a self-hosted Bot API
server works. The token is part of every URL, so no URL ever goes into an error message."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pjobs.secretfile import read_secret

if TYPE_CHECKING:
    import httpx

    from pjobs.config import Settings


class TelegramError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TelegramBot:
    def __init__(self, settings: Settings, http: Callable[[], httpx.Client]) -> None:
        self._settings = settings.telegram
        self._http = http  # asked for only when a message is really sent

    def token(self) -> str | None:
        return read_secret(
            self._settings.bot_token, self._settings.bot_token_file, "the Telegram bot token"
        )

    @property
    def configured(self) -> bool:
        return self.token() is not None

    def call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        token = self.token()
        if token is None:
            raise TelegramError("no Telegram bot token is configured")
        url = f"{self._settings.api_base_url.rstrip('/')}/bot{token}/{method}"
        try:
            response = self._http().post(url, json=payload, timeout=self._settings.timeout)
        except httpx.HTTPError as exc:
            raise TelegramError(f"Telegram {method}: {type(exc).__name__}") from None
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200 and data.get("ok"):
            return data
        retry_after = (data.get("parameters") or {}).get("retry_after")
        description = str(data.get("description") or "").replace(token, "***")[:200]
        raise TelegramError(
            f"Telegram {method}: HTTP {response.status_code} {description}".strip(),
            float(retry_after) if retry_after is not None else None,
        )

    def send_message(self, chat_id: str, text: str) -> None:
        self.call("sendMessage", {"chat_id": chat_id, "text": text})
