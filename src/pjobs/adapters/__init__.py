"""The outside world behind small interfaces, each built on first use: the tenant
database server, the platform services, the Telegram Bot API and webhook receivers, all
over one HTTP client that the composition root (`pjobs.app`) provides."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pjobs.dburl import database_url, parse_database_url

if TYPE_CHECKING:
    import httpx

    from pjobs.adapters.services import PlatformServices
    from pjobs.adapters.ssrf import Resolver
    from pjobs.adapters.telegram import TelegramBot
    from pjobs.adapters.tenants import TenantDatabases
    from pjobs.adapters.webhooks import WebhookSender
    from pjobs.config import Settings


class Integrations:
    def __init__(
        self,
        settings: Settings,
        http: Callable[[], httpx.Client],
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._http = http  # called on first use: commands that make no request never pay it
        self._resolver = resolver  # None: the system's (tests pass their own)
        self._transport = transport  # None: a real one

    @cached_property
    def http(self) -> httpx.Client:
        return self._http()

    @cached_property
    def tenants(self) -> TenantDatabases:
        from pjobs.adapters.tenants import PostgresTenants, SQLiteTenants

        configured = self.settings.tenants.database_url
        url = parse_database_url(configured) if configured else database_url(self.settings)
        if url.dialect == "postgresql":
            return PostgresTenants(url.target, self.settings.tenants.name_prefix)
        root = Path(url.target) if configured else self.settings.data_dir / "tenants"
        return SQLiteTenants(root)

    @cached_property
    def services(self) -> PlatformServices:
        from pjobs.adapters.services import PlatformServices

        return PlatformServices(self.settings, lambda: self.http)

    @cached_property
    def telegram(self) -> TelegramBot:
        from pjobs.adapters.telegram import TelegramBot

        return TelegramBot(self.settings, lambda: self.http)

    @cached_property
    def webhook_transport(self) -> httpx.BaseTransport:
        from pjobs.adapters.http import build_transport

        return build_transport(self._transport)

    @cached_property
    def webhooks(self) -> WebhookSender:
        from pjobs.adapters.ssrf import system_resolver
        from pjobs.adapters.webhooks import WebhookSender

        return WebhookSender(
            self.settings.webhooks,
            lambda: self.webhook_transport,
            self._resolver or system_resolver,
        )

    def close(self) -> None:
        if "webhook_transport" in self.__dict__:
            self.webhook_transport.close()
