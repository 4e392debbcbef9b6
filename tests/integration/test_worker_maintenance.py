"""A worker's maintenance of the jobs (their statistics, the space of finished ones) runs
on a thread of its own and at quiet moments: never in the way of the loop's claims, and
done once a drain is over, so the next drain does not pay for the one before (on
PostgreSQL, an ANALYZE and a VACUUM after a million jobs take most of a second)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from pjobs.app import App
from pjobs.queue.worker import IDLE_MAINTENANCE_JOBS
from pjobs.settings.config import Settings
from pjobs.store import Store
from support.waiting import until, worker_for

MAINTENANCE = ("refresh_statistics", "reclaim_finished")


class Recording:
    """The store, recording the order in which the worker acknowledges and maintains;
    `refresh_statistics` first waits for `release` (set at once unless a test holds it)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: list[str] = []
        self.release = threading.Event()
        self.release.set()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        if name not in (*MAINTENANCE, "acknowledge", "acknowledge_and_claim"):
            return real

        def recorded(*args: Any, **kwargs: Any) -> Any:
            if name == "refresh_statistics":
                assert self.release.wait(30), "the test never released the maintenance"
            self.calls.append(name)
            return real(*args, **kwargs)

        return recorded

    def maintained_after_last_acknowledgement(self) -> bool:
        calls = list(self.calls)
        acknowledged = [i for i, c in enumerate(calls) if c.startswith("acknowledge")]
        maintained = [i for i, c in enumerate(calls) if c == "reclaim_finished"]
        return bool(acknowledged and maintained) and maintained[-1] > acknowledged[-1]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # the periodic maintenance (with the rescue sweep) comes once, at the start
    return make_settings(worker={"rescue_interval": 3600, "poll_interval": 0.05})


def test_a_burst_maintains_the_jobs_once_it_has_drained_them(
    store: Store, settings: Settings
) -> None:
    app = App(settings, store=store)
    app.queue.enqueue_many([("noop", {})] * 50)
    recording = Recording(store)
    worker = worker_for(app.queue, burst=True)
    worker.store = recording  # type: ignore[assignment]
    worker.run()
    assert worker.processed == 50
    assert recording.maintained_after_last_acknowledgement(), recording.calls


def test_a_serving_worker_maintains_the_jobs_when_it_falls_idle(
    store: Store, settings: Settings
) -> None:
    app = App(settings, store=store)
    recording = Recording(store)
    worker = worker_for(app.queue)
    worker.store = recording  # type: ignore[assignment]
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        until(lambda: "reclaim_finished" in recording.calls, what="the first maintenance")
        app.queue.enqueue_many([("noop", {})] * IDLE_MAINTENANCE_JOBS)
        until(lambda: worker.processed == IDLE_MAINTENANCE_JOBS, what="the jobs done")
        until(recording.maintained_after_last_acknowledgement, what="maintained once idle")
        maintained = recording.calls.count("reclaim_finished")
        app.queue.enqueue_many([("noop", {})] * 10)  # a trickle: the periodic one's
        until(lambda: worker.processed == IDLE_MAINTENANCE_JOBS + 10, what="the trickle done")
        seen = len(recording.calls)  # the loop's next turn comes after its idle moment
        until(lambda: "acknowledge_and_claim" in recording.calls[seen:], what="a turn more")
        assert recording.calls.count("reclaim_finished") == maintained
    finally:
        worker.stop()
        thread.join(30)
    assert not thread.is_alive()


def test_the_loop_claims_while_the_maintenance_is_under_way(
    store: Store, settings: Settings
) -> None:
    app = App(settings, store=store)
    jobs = app.queue.enqueue_many([("noop", {})] * 20)
    recording = Recording(store)
    recording.release.clear()  # the statistics take as long as the test says
    worker = worker_for(app.queue, burst=True)
    worker.store = recording  # type: ignore[assignment]
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        done = lambda: all(app.queue.get(j.id).state == "succeeded" for j in jobs)  # noqa: E731
        until(done, seconds=20, what="the jobs run while the maintenance waits")
        assert "refresh_statistics" not in recording.calls  # still waiting
    finally:
        recording.release.set()
        thread.join(30)
    assert not thread.is_alive()
