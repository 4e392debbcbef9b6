"""The composition root: settings → store → clock → HTTP client → integrations →
notifier → job-type registry → queue, wired in this one place, each built on first use
(so a command pays only for what it touches)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from pjobs.adapters import Integrations, WebhookTransport
    from pjobs.adapters.ssrf import Resolver
    from pjobs.domain.notifications import Notifier
    from pjobs.queue.context import JobContext
    from pjobs.queue.jobqueue import JobQueue
    from pjobs.queue.jobtypes import Registry
    from pjobs.settings.config import Settings
    from pjobs.store import Store
    from pjobs.store.records import ClaimedJob
    from pjobs.timeutil import Clock


class App:
    """Everything a command or a worker needs, for one set of settings.

    Tests pass their own clock, an open store, a transport (httpx's, for the services and
    Telegram; a webhook transport for deliveries) or a name resolver; what the App opened
    itself it closes.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
        transport: httpx.BaseTransport | None = None,
        webhook_transport: WebhookTransport | None = None,
        resolver: Resolver | None = None,
        check_schema: bool = True,
        create_database: bool | None = None,
    ) -> None:
        self.settings = settings
        self._create_database = create_database
        self._given_clock = clock
        self._transport = transport
        self._webhook_transport = webhook_transport
        self._resolver = resolver
        self._check_schema = check_schema
        if store is not None:
            self.__dict__["store"] = store
        self._owns_store = store is None

    @cached_property
    def clock(self) -> Clock:
        from pjobs.timeutil import SystemClock

        return self._given_clock or SystemClock()

    @cached_property
    def store(self) -> Store:
        from pjobs.settings.dburl import database_url
        from pjobs.store import open_store

        url = database_url(self.settings)
        return open_store(
            url,
            # PostgreSQL's pool (SQLite has none): a connection a running job, two for the
            # worker's turn (`acknowledge_and_claim`), one spare
            pool_size=self.settings.worker.concurrency + 3 if url.dialect == "postgresql" else 0,
            check_schema=self._check_schema,
            create=self._create_database,
        )

    @cached_property
    def http(self) -> httpx.Client:
        from pjobs.adapters.http import build_http_client

        return build_http_client(self._transport)

    @cached_property
    def integrations(self) -> Integrations:
        from pjobs.adapters import Integrations

        return Integrations(
            self.settings, lambda: self.http, self._resolver, self._webhook_transport
        )

    @cached_property
    def notifier(self) -> Notifier:
        from pjobs.domain.notifications import Notifier

        return Notifier(self.store, self.settings, self.clock, self.integrations.telegram)

    @cached_property
    def registry(self) -> Registry:
        from pjobs.queue.plugins import load_registry

        return load_registry(self.settings)

    @cached_property
    def queue(self) -> JobQueue:
        from pjobs.queue.jobqueue import JobQueue

        return JobQueue(self.store, self.registry, self.settings, self.clock, self.context)

    def context(self, job: ClaimedJob, revealed: dict[str, str] | None = None) -> JobContext:
        """What a handler gets for one attempt of a job."""
        return self._context_type(
            job.id,
            job.attempt,
            job.max_attempts,
            self.store,
            self.clock,
            self.settings,
            self.registry,
            self.integrations,
            self.notifier,
            {} if revealed is None else revealed,
            job.requested_by,
        )

    @cached_property
    def _context_type(self) -> type[JobContext]:
        """JobContext, imported once: an import statement costs more than the rest of
        `context` (one a job), and the module is not imported until a job runs."""
        from pjobs.queue.context import JobContext

        return JobContext

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        if "integrations" in self.__dict__:
            self.integrations.close()
        if self._owns_store and "store" in self.__dict__:
            self.store.close()
        for built in ("store", "http", "integrations", "notifier", "queue"):
            self.__dict__.pop(built, None)
