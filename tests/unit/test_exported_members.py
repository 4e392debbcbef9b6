"""What plugins may import is pinned: `pjobs.queue`'s public names (job types, their
context, the errors a handler raises) and `pjobs.control.ControlTx`. A name added or taken
away is a decision, made here on purpose."""

from __future__ import annotations

import pjobs.control
import pjobs.queue

PLUGIN_SURFACE = [
    "ONE_SHOT",
    "Deferred",
    "JobContext",
    "JobType",
    "Misconfigured",
    "PermanentFailure",
    "Refused",
    "Registry",
    "RetryAfter",
    "RetryPolicy",
]


def test_the_queue_exports_what_plugins_may_use() -> None:
    assert sorted(pjobs.queue.__all__) == sorted(PLUGIN_SURFACE)
    for name in pjobs.queue.__all__:
        member = getattr(pjobs.queue, name)
        assert member is not None and getattr(member, "__module__", "").startswith("pjobs.")


def test_the_control_plane_exports_its_transaction() -> None:
    assert sorted(pjobs.control.__all__) == ["ControlPlane", "ControlTx"]


def test_a_plugin_written_against_the_surface_registers_and_runs() -> None:
    from pydantic import BaseModel

    from pjobs.queue import JobContext, JobType, Registry, RetryPolicy

    class Greet(BaseModel):
        name: str

    def greet(payload: Greet, context: JobContext) -> dict[str, str]:
        return {"greeting": f"hello {payload.name}"}

    registry = Registry()
    registry.add(JobType("greet", Greet, greet, RetryPolicy(max_attempts=3, base_delay=5)))
    assert registry.get("greet").handler is greet
