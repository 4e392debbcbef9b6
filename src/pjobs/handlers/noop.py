"""`noop`: does nothing, successfully. For health checks, benchmarks and drills."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import JobType
from pjobs.queue.retry import ONE_SHOT


class NoopPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sleep_seconds: float = Field(0.0, ge=0, le=3600, description="stay busy this long first")


def run_noop(payload: NoopPayload, context: JobContext) -> None:
    """Changes nothing in the world; with `sleep_seconds`, holds a worker slot that long."""
    if payload.sleep_seconds:
        time.sleep(payload.sleep_seconds)


JOB_TYPE = JobType(
    "noop", NoopPayload, run_noop, ONE_SHOT, description="does nothing (health checks, benchmarks)"
)
