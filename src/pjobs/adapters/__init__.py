"""The outside world behind small interfaces, each built on first use: the tenant
database server, the platform services and the Telegram Bot API over one HTTP client that
the composition root (`pjobs.app`) provides, and webhook receivers over a connection pool
a thread (httpcore's, below the client: a delivery needs none of a client's features)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pjobs.settings.dburl import database_url, parse_database_url

if TYPE_CHECKING:
    import ssl

    import httpcore
    import httpx

    from pjobs.adapters.backup_storage import BackupStorage
    from pjobs.adapters.services import PlatformServices
    from pjobs.adapters.ssrf import Resolver
    from pjobs.adapters.telegram import TelegramBot
    from pjobs.adapters.tenants import TenantDatabases
    from pjobs.adapters.webhooks import WebhookSender
    from pjobs.settings.config import Settings


class WebhookTransport(Protocol):
    """The seam of webhook requests (httpcore's request interface, as its connection pool
    has it): what the sender posts through. The real one is a pool a thread
    (`webhook_pool`); a test may pass its own to try a handler without a server."""

    def handle_request(self, request: httpcore.Request) -> httpcore.Response: ...


class Integrations:
    def __init__(
        self,
        settings: Settings,
        http: Callable[[], httpx.Client],
        resolver: Resolver | None = None,
        webhook_transport: WebhookTransport | None = None,
    ) -> None:
        self.settings = settings
        self._http = http  # called on first use: commands that make no request never pay it
        self._resolver = resolver  # None: the system's (tests pass their own)
        self._webhook_transport = webhook_transport  # None: a pool of httpcore's a thread
        self._local = threading.local()
        self._webhook_pools: list[httpcore.ConnectionPool] = []
        self._lock = threading.Lock()

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

    def backup_storage(self, name: str) -> BackupStorage:
        """Where backups go, by name: `local` (backups.local_dir, else backups/ in the data
        directory) or `telegram` (the bot's chat, in parts)."""
        from pjobs.adapters.backup_storage import LocalStorage, TelegramStorage
        from pjobs.errors import ConfigError

        cfg = self.settings.backups
        if name == "local":
            return LocalStorage(cfg.local_dir or self.settings.data_dir / "backups")
        if name == "telegram":
            return TelegramStorage(self.telegram, cfg.telegram_chat_id, cfg.part_bytes)
        raise ConfigError(f"unknown backup storage {name!r} (known: local, telegram)")

    @cached_property
    def telegram(self) -> TelegramBot:
        from pjobs.adapters.telegram import TelegramBot

        return TelegramBot(self.settings, lambda: self.http)

    @cached_property
    def webhook_tls(self) -> ssl.SSLContext:
        """The TLS settings of webhook requests (`verified_tls`), built once; loading the
        authorities takes longer than a delivery."""
        from pjobs.adapters.http import verified_tls

        return verified_tls()

    def webhook_pool(self) -> WebhookTransport:
        """What this thread posts webhooks through: the transport given, else a connection
        pool of its own (threads sharing one would queue on its lock for every request)."""
        if self._webhook_transport is not None:
            return self._webhook_transport
        pool: httpcore.ConnectionPool | None = getattr(self._local, "webhook_pool", None)
        if pool is None:
            from pjobs.adapters.http import build_webhook_pool

            pool = self._local.webhook_pool = build_webhook_pool(self.webhook_tls)
            with self._lock:
                self._webhook_pools.append(pool)
        return pool

    @cached_property
    def webhooks(self) -> WebhookSender:
        from pjobs.adapters.ssrf import system_resolver
        from pjobs.adapters.webhooks import WebhookSender

        return WebhookSender(
            self.settings.webhooks,
            self.webhook_pool,
            self._resolver or system_resolver,
            runners=self.settings.worker.concurrency,
        )

    def close(self) -> None:
        with self._lock:
            pools, self._webhook_pools = self._webhook_pools, []
        for pool in pools:
            pool.close()
