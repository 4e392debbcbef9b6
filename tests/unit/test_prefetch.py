"""How many jobs a worker claims beyond its concurrency when `worker.prefetch` is unset:
what it finishes in a quarter of a second, at least 10 and at most two batches."""

from __future__ import annotations

from pjobs.queue.worker import Prefetch


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_at(prefetch: Prefetch, clock: Ticks, per_second: float, seconds: float) -> None:
    """Jobs finished at a steady rate, acknowledged every 10 ms."""
    for _ in range(int(seconds / 0.01)):
        clock.now += 0.01
        prefetch.finished(round(per_second * 0.01))


def test_a_set_prefetch_is_kept() -> None:
    clock = Ticks()
    prefetch = Prefetch(25, 1000, clock)
    run_at(prefetch, clock, 20_000, 2.0)
    assert prefetch.jobs == 25


def test_quick_jobs_are_claimed_in_whole_batches_and_slow_ones_a_few_at_a_time() -> None:
    clock = Ticks()
    prefetch = Prefetch(None, 1000, clock)
    assert prefetch.jobs == Prefetch.LEAST  # nothing finished yet
    run_at(prefetch, clock, 4_000, 2.0)
    assert 900 <= prefetch.jobs <= 1100  # a quarter of a second of 4,000 a second
    run_at(prefetch, clock, 50_000, 2.0)
    assert prefetch.jobs == 2000  # two batches at most
    run_at(prefetch, clock, 20, 3.0)
    assert prefetch.jobs == Prefetch.LEAST
