"""Owners of projects, and where their notifications go (email, Telegram chat)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pjobs.control.noun import Noun


@dataclass(frozen=True)
class Owner:
    id: str
    email: str | None
    telegram_chat_id: str | None
    created_at: datetime


class Owners(Noun):
    def ensure(self, owner_id: str) -> None:
        """Create the owner with no contact details if it does not exist."""
        self.tx.run("ensure_owner", id=owner_id, email=None, telegram_chat_id=None)

    def update(
        self, owner_id: str, email: str | None = None, telegram_chat_id: str | None = None
    ) -> None:
        """Create the owner if needed and set the contact details given (None keeps)."""
        self.ensure(owner_id)
        self.tx.run("update_owner", id=owner_id, email=email, telegram_chat_id=telegram_chat_id)

    def get(self, owner_id: str) -> Owner | None:
        """The owner, or None."""
        return self.tx.record(Owner, "get_owner", id=owner_id)

    def list(self, limit: int = 1000, offset: int = 0) -> list[Owner]:
        """Owners by id."""
        return self.tx.records(Owner, "list_owners", limit=limit, offset=offset)

    def chat_ids(self, owner_ids: Iterable[str]) -> dict[str, str | None]:
        """The Telegram chat id of each of these owners that exists (one query)."""
        rows = self.tx.rows("owner_chat_ids", ids=self.tx.store.array(sorted(set(owner_ids))))
        return {row["id"]: row["telegram_chat_id"] for row in rows}
