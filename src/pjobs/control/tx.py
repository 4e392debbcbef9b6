"""One open transaction of the control plane: named queries by column name, and each noun
of the control plane as an attribute (`tx.projects`, `tx.keys`, `tx.audit`, …)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pjobs.control.abuse import AbuseDetections
from pjobs.control.alerts import Alerts
from pjobs.control.audit import Audit
from pjobs.control.backups import Backups
from pjobs.control.events import Events
from pjobs.control.jobs import JobsOnTx
from pjobs.control.keys import Keys
from pjobs.control.notifications import Notifications
from pjobs.control.owners import Owners
from pjobs.control.projects import Projects
from pjobs.control.quotas import Quotas
from pjobs.control.schedules import ScheduleTicks
from pjobs.control.usage import Usage
from pjobs.control.webhooks import Webhooks
from pjobs.store.rows import dict_rows

if TYPE_CHECKING:
    from pjobs.store import Store

R = TypeVar("R")
N = TypeVar("N")


class _Noun(Generic[N]):
    """A noun of the transaction, made on first use (most transactions use one or two)."""

    def __init__(self, cls: Callable[[ControlTx], N]) -> None:
        self.cls = cls

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, tx: ControlTx, owner: type | None = None) -> N:
        made = tx.__dict__[self.name] = self.cls(tx)  # from now on, found before this
        return made


class ControlTx:
    """The control-plane operations, on one open transaction, grouped by noun."""

    owners = _Noun(Owners)
    projects = _Noun(Projects)
    keys = _Noun(Keys)
    audit = _Noun(Audit)
    notifications = _Noun(Notifications)
    jobs = _Noun(JobsOnTx)
    events = _Noun(Events)
    usage = _Noun(Usage)
    quotas = _Noun(Quotas)
    abuse = _Noun(AbuseDetections)
    webhooks = _Noun(Webhooks)
    alerts = _Noun(Alerts)
    schedules = _Noun(ScheduleTicks)
    backups = _Noun(Backups)

    def __init__(self, store: Store, cursor: Any, now: datetime) -> None:
        self.store, self.cursor, self.now = store, cursor, now

    # -- queries ------------------------------------------------------------------------

    def run(self, query: str, **params: Any) -> Any:
        """Execute a named query; times become the driver's, `now` defaults to the tx's."""
        converted = {key: self._param(value) for key, value in params.items()}
        converted.setdefault("now", self.store.ts(self.now))
        self.cursor.execute(self.store.queries[query], converted)
        return self.cursor

    def run_many(self, query: str, rows: list[dict[str, Any]]) -> None:
        """Execute a named query once per row of parameters (the driver batches them)."""
        if rows:
            now = self.store.ts(self.now)
            params = [{"now": now} | {k: self._param(v) for k, v in row.items()} for row in rows]
            self.cursor.executemany(self.store.queries[query], params)

    def run_rows(self, query: str, rows: Sequence[str]) -> Any:
        """Execute a named query for many rows at once: its parameter `rows` is a JSON
        array of them, each a JSON object already (`store.outcomes.json_row`). One
        statement, however many rows, and far less to encode than a parameter a column."""
        return self.run(query, rows=f"[{','.join(rows)}]")

    def _param(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return self.store.ts(value)
        if isinstance(value, date):
            return self.store.day(value)
        return value

    def rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        return dict_rows(self.run(query, **params))

    def packed_rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """`rows`, of a query whose SQLite form packs them into one (`SQLiteStore.packed_rows`)."""
        return self.store.packed_rows(self.run(query, **params))

    def row(self, query: str, **params: Any) -> dict[str, Any] | None:
        rows = self.rows(query, **params)
        return rows[0] if rows else None

    def records(self, cls: type[R], query: str, **params: Any) -> list[R]:
        return [self.store.record(cls, row) for row in self.rows(query, **params)]

    def record(self, cls: type[R], query: str, **params: Any) -> R | None:
        found = self.row(query, **params)
        return None if found is None else self.store.record(cls, found)
