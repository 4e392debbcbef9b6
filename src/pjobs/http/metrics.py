"""Prometheus metrics of one `serve` process (prometheus-client, text exposition format):
what the database says at each scrape (jobs by state and type, queue lag, notifications,
webhook deliveries, projects by status, alerts received) and what this process observed
(job durations, failed attempts, rescues)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pjobs.store.records import DEFERRED, INVALID_PAYLOAD

if TYPE_CHECKING:
    from pjobs.app import App
    from pjobs.store.records import ClaimedJob, Outcome

DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 120, 600)


class DatabaseCollector(Collector):
    """Read at each scrape, so every `serve` process reports the shared truth."""

    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        from pjobs.control import ControlPlane

        app = self.app
        now = app.clock.now()
        jobs = GaugeMetricFamily("pjobs_jobs", "Jobs by state and type.", labels=["state", "type"])
        for state, job_type, count in app.store.job_counts():
            jobs.add_metric([state, job_type], count)
        yield jobs
        oldest = app.store.oldest_due(now)
        lag = GaugeMetricFamily("pjobs_queue_lag_seconds", "Age of the oldest due job.")
        lag.add_metric([], 0.0 if oldest is None else (now - oldest).total_seconds())
        yield lag
        with ControlPlane(app.store).tx(now, write=False) as tx:
            tables = {
                "pjobs_notifications": (
                    "Notifications by state.",
                    "state",
                    tx.notifications.counts(),
                ),
                "pjobs_webhook_deliveries": (
                    "Webhook deliveries by state.",
                    "state",
                    tx.webhooks.counts(),
                ),
                "pjobs_projects": ("Projects by status.", "status", tx.projects.counts()),
            }
            alerts = tx.alerts.counts()
        for name, (text, label, counts) in tables.items():
            family = GaugeMetricFamily(name, text, labels=[label])
            for key, count in sorted(counts.items()):
                family.add_metric([key], count)
            yield family
        received = GaugeMetricFamily(
            "pjobs_alerts_received", "Monitoring alerts received.", labels=["source", "status"]
        )
        for (source, status), count in sorted(alerts.items()):
            received.add_metric([source, status], count)
        yield received


class ServeMetrics:
    """The registry `/metrics` serves, and what the worker reports into it."""

    def __init__(self, app: App) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(DatabaseCollector(app))
        self.durations = Histogram(
            "pjobs_job_duration_seconds",
            "Attempt durations by job type.",
            ["type"],
            registry=self.registry,
            buckets=DURATION_BUCKETS,
        )
        self.failed = Counter(
            "pjobs_job_attempts_failed",
            "Failed attempts by job type.",
            ["type"],
            registry=self.registry,
        )
        self.deferred = Counter(
            "pjobs_job_attempts_deferred",
            "Attempts put off without counting (a slow webhook endpoint's share was full).",
            ["type"],
            registry=self.registry,
        )
        self.invalid = Counter(
            "pjobs_jobs_invalid_payload",
            "Jobs failed when claimed: their payload does not fit their type (enqueued in SQL).",
            ["type"],
            registry=self.registry,
        )
        self.rescues = Counter(
            "pjobs_rescues",
            "Jobs rescued from a worker that stopped renewing its lease.",
            registry=self.registry,
        )

    def attempt(self, job: ClaimedJob, outcome: Outcome) -> None:
        if outcome.history == DEFERRED:
            self.deferred.labels(job.type).inc()
            return
        seconds = (outcome.finished_at - outcome.started_at).total_seconds()
        self.durations.labels(job.type).observe(max(seconds, 0.0))
        if outcome.state != "succeeded":
            self.failed.labels(job.type).inc()
            if (outcome.error or "").startswith(INVALID_PAYLOAD):
                self.invalid.labels(job.type).inc()

    def rescued(self, count: int) -> None:
        self.rescues.inc(count)

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
