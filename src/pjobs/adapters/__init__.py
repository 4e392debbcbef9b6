"""The outside world behind small interfaces, built on first use: an HTTP client, the
tenant database server, the platform services, Telegram and the notifier."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pjobs.config import Settings, database_url, parse_database_url

if TYPE_CHECKING:
    import httpx

    from pjobs.adapters.services import PlatformServices
    from pjobs.adapters.telegram import TelegramBot
    from pjobs.adapters.tenants import TenantDatabases
    from pjobs.notify import Notifier
    from pjobs.store import Store
    from pjobs.timeutil import Clock


class Adapters:
    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings, self.store, self.clock = settings, store, clock

    @cached_property
    def http(self) -> httpx.Client:
        import httpx

        from pjobs import __version__

        return httpx.Client(
            timeout=10.0, follow_redirects=False, headers={"User-Agent": f"pjobs/{__version__}"}
        )

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

        return PlatformServices(self.settings, self.http)

    @cached_property
    def telegram(self) -> TelegramBot:
        from pjobs.adapters.telegram import TelegramBot

        return TelegramBot(self.settings, self.http)

    @cached_property
    def notifier(self) -> Notifier:
        from pjobs.notify import Notifier

        return Notifier(self.store, self.settings, self.clock, self.telegram)

    def tenant_schema(self) -> tuple[str, str]:
        """The tenant schema SQL and where it came from."""
        from importlib import resources

        from pjobs.errors import ConfigError

        path = self.settings.tenants.schema_file
        if path is None:
            text = (resources.files("pjobs") / "tenant_schema" / "default.sql").read_text()
            return text, "built-in"
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise ConfigError(f"cannot read tenants.schema_file {path}: {exc.strerror}") from None

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
