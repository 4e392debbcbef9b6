"""The queue against a model, on both stores: random sequences of enqueue (with and without
idempotency keys and delays), claim, complete, fail, cancel, retry, lease expiry and
rescue. After every step the store and a simple in-memory model agree on every job's
state and attempts, and the invariants hold: attempts never exceed max attempts, no job is
running without a worker and a lease, at most one active job holds a key, and the counts by
state are the model's."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pjobs.store import Store
from pjobs.store.records import NewJob, Outcome

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
MAX_RESCUES = 1
WORKERS = ("w1", "w2")


@dataclass
class Job:
    id: int
    key: str | None
    priority: int
    run_at: datetime
    max_attempts: int
    state: str = "queued"
    attempts: int = 0
    rescues: int = 0
    worker: str | None = None
    lease_until: datetime | None = None


class Model:
    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.now = START

    def active_key(self, key: str | None) -> int | None:
        for job in self.jobs.values():
            if key is not None and job.key == key and job.state in ("queued", "running"):
                return job.id
        return None

    def due(self) -> list[Job]:
        due = [j for j in self.jobs.values() if j.state == "queued" and j.run_at <= self.now]
        return sorted(due, key=lambda j: (-j.priority, j.run_at, j.id))


ARGUMENTS = {
    "enqueue": st.tuples(
        st.sampled_from([None, "k1", "k2"]),
        st.sampled_from([0, 60]),
        st.integers(0, 2),
        st.integers(1, 3),
    ),
    "claim": st.tuples(st.sampled_from(WORKERS), st.integers(1, 3)),
    "advance": st.tuples(st.sampled_from([5, 40, 70])),
    "complete": st.tuples(st.integers(0, 20)),
    "fail": st.tuples(st.integers(0, 20)),
    "cancel": st.tuples(st.integers(0, 20)),
    "retry": st.tuples(st.integers(0, 20)),
    "rescue": st.tuples(),
}
# weighted towards enqueue, claim and the passing of time, so that most examples see
# leases lapse, rescues, retries and exhausted attempts
KINDS = ["enqueue"] * 3 + ["claim"] * 3 + ["advance"] * 2 + [k for k in ARGUMENTS][3:]
operations = st.lists(
    st.sampled_from(KINDS).flatmap(lambda kind: ARGUMENTS[kind].map(lambda a: (kind, *a))),
    min_size=10,
    max_size=40,
)


def pick(jobs: list[Job], index: int) -> Job | None:
    return jobs[index % len(jobs)] if jobs else None


def step(store: Store, model: Model, op: tuple[object, ...]) -> None:
    now = model.now
    kind = op[0]
    if kind == "enqueue":
        key, delay, priority, max_attempts = op[1:]
        run_at = now + timedelta(seconds=int(delay))  # type: ignore[arg-type]
        new = NewJob("noop", "{}", "default", int(priority), int(max_attempts), run_at, key)  # type: ignore[arg-type]
        (result,) = store.enqueue([new], now)
        holder = model.active_key(key)  # type: ignore[arg-type]
        if holder is not None:
            assert (result.id, result.created) == (holder, False)
        else:
            assert result.created
            model.jobs[result.id] = Job(result.id, key, int(priority), run_at, int(max_attempts))  # type: ignore[arg-type]
    elif kind == "claim":
        worker, limit = str(op[1]), int(op[2])  # type: ignore[call-overload]
        claimed = store.claim(worker, None, limit, now, now + LEASE)
        expected = model.due()[:limit]
        assert [c.id for c in claimed] == [j.id for j in expected]
        for job in expected:
            job.state, job.worker, job.lease_until = "running", worker, now + LEASE
            job.attempts += 1
    elif kind in ("complete", "fail"):
        job = pick([j for j in model.jobs.values() if j.state == "running"], int(op[1]))  # type: ignore[call-overload]
        if job is None:
            return
        assert job.worker is not None
        if kind == "complete":
            outcome = Outcome(job.id, job.attempts, "succeeded", now, now)
            next_state, run_at = "succeeded", None
        elif job.attempts < job.max_attempts:
            run_at = now + timedelta(seconds=10)
            outcome = Outcome(job.id, job.attempts, "queued", now, now, None, "x", None, run_at)
            next_state = "queued"
        else:
            outcome = Outcome(job.id, job.attempts, "failed", now, now, None, "x")
            next_state, run_at = "failed", None
        # a lapsed lease is the worker's until a rescue gives the job to another
        assert store.acknowledge(job.worker, [outcome]) == {job.id}
        job.state, job.worker, job.lease_until = next_state, None, None
        if run_at is not None:
            job.run_at = run_at
    elif kind == "cancel":
        job = pick(list(model.jobs.values()), int(op[1]))  # type: ignore[call-overload]
        if job is None:
            return
        changed = store.cancel_job(job.id, now)
        assert changed == (job.state == "queued")
        if changed:
            job.state = "cancelled"
    elif kind == "retry":
        job = pick(list(model.jobs.values()), int(op[1]))  # type: ignore[call-overload]
        if job is None:
            return
        allowed = job.state in ("failed", "cancelled") and model.active_key(job.key) is None
        try:
            changed = store.retry_job(job.id, now)
        except Exception:  # another job holds its key: refused (InvalidStateError)
            assert not allowed
            return
        assert changed == allowed
        if changed:
            job.state, job.attempts, job.rescues, job.run_at = "queued", 0, 0, now
    elif kind == "advance":  # time passes, then the rescue sweep runs (as serve's tick does)
        model.now = now + timedelta(seconds=int(op[1]))  # type: ignore[call-overload]
        step(store, model, ("rescue",))
    elif kind == "rescue":
        count = store.rescue_expired(now, MAX_RESCUES)
        lapsed = [
            j for j in model.jobs.values()
            if j.state == "running" and j.lease_until is not None and j.lease_until < now
        ]  # fmt: skip
        assert count == len(lapsed)
        event(f"rescued {bool(lapsed)}")
        for job in lapsed:
            if job.rescues >= MAX_RESCUES:
                job.state = "failed"
            else:
                job.state, job.attempts = "queued", job.attempts - 1
            job.rescues += 1
            job.worker, job.lease_until = None, None


def check(store: Store, model: Model) -> None:
    for job in model.jobs.values():
        record = store.get_job(job.id)
        assert record is not None
        assert (record.state, record.attempts) == (job.state, job.attempts), (record, job)
        assert record.attempts <= record.max_attempts
        if record.state == "running":
            assert record.worker_id == job.worker and record.lease_expires_at is not None
        else:
            assert record.worker_id is None and record.lease_expires_at is None
    active = Counter(
        j.key for j in model.jobs.values() if j.key and j.state in ("queued", "running")
    )
    assert all(n == 1 for n in active.values())
    counts = Counter()  # type: Counter[str]
    for state, _type, n in store.job_counts():
        counts[state] += n
    assert counts == Counter(j.state for j in model.jobs.values())


# psycopg_pool's threads draw reconnect and lifetime jitter from the global `random` while
# hypothesis generates data; that is not the strategy using `random`
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_the_queue_behaves_like_its_model(store: Store, ops: list[tuple[object, ...]]) -> None:
    with store.transaction() as cursor:  # each example starts from an empty queue
        cursor.execute("DELETE FROM job_attempts")
        cursor.execute("DELETE FROM jobs")
    model = Model()
    for op in ops:
        step(store, model, op)
        check(store, model)
