"""Retry policies: how often something is tried, and the one backoff formula pjobs uses
for jobs, notifications and webhook deliveries alike."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How often a job is tried, and how long it waits between tries."""

    max_attempts: int = 1
    base_delay: float = 2.0  # seconds before the second attempt (before jitter)
    max_delay: float = 3600.0

    def delay(self, failed_attempts: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(failed_attempts - 1, 0))
        jitter: float = (rng or random).uniform(0, ceiling / 2)
        return ceiling / 2 + jitter


ONE_SHOT = RetryPolicy(max_attempts=1)
