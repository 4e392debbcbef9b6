"""Job types the tests add through the `handler_modules` setting, as any plugin would."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pjobs.control import ControlTx
from pjobs.queue import JobContext, JobType, PermanentFailure, Registry, RetryPolicy


class Shaped(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int
    label: str = "x"


class Measured(BaseModel):
    value: float


class FlakyPayload(BaseModel):
    """Fails until `marker` holds `fail_times` lines; each attempt appends one."""

    marker: str
    fail_times: int


def run_shaped(payload: Shaped, context: JobContext) -> dict[str, int]:
    return {"doubled": payload.count * 2}


def run_flaky(payload: FlakyPayload, context: JobContext) -> str:
    marker = Path(payload.marker)
    seen = len(marker.read_text().splitlines()) if marker.exists() else 0
    with marker.open("a") as handle:
        handle.write(f"attempt {context.attempt}\n")
    if seen < payload.fail_times:
        raise RuntimeError(f"flaky failure {seen + 1}")
    return "ok"


def run_broken(payload: Shaped, context: JobContext) -> None:
    raise PermanentFailure(f"refused for good: {payload.label}")


class RecordedPayload(BaseModel):
    """Records an audit event with its outcome; `bad_write` adds a project whose owner
    does not exist, which the database refuses, after the audit event."""

    label: str
    bad_write: bool = False


def run_recorded(payload: RecordedPayload, context: JobContext) -> str:
    def write(tx: ControlTx) -> None:
        tx.audit.append("test", "recorded", None, payload.label, job_id=context.job_id)
        if payload.bad_write:
            tx.projects.insert(f"proj-{payload.label}", "X", "no-such-owner", "eu", "free")

    context.with_outcome(write)
    return payload.label


def register(registry: Registry) -> None:
    registry.add(JobType("shaped", Shaped, run_shaped))
    registry.add(JobType("measured", Measured, lambda payload, context: payload.value))
    registry.add(
        JobType("flaky", FlakyPayload, run_flaky, RetryPolicy(3, base_delay=0.05, max_delay=0.1))
    )
    registry.add(JobType("broken", Shaped, run_broken, RetryPolicy(3, base_delay=0.05)))
    registry.add(JobType("recorded", RecordedPayload, run_recorded))
