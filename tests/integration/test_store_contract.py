"""One contract, two stores: every test here runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from pjobs.errors import InvalidStateError
from pjobs.store import Store
from pjobs.store.outcomes import encoded
from pjobs.store.records import Claim, NewJob, Outcome, OutcomeRow
from pjobs.timeutil import utcnow

W1, W2 = "worker-1", "worker-2"


def new_job(**overrides: object) -> NewJob:
    values: dict[str, object] = {
        "type": "noop",
        "payload": "{}",
        "queue": "default",
        "priority": 0,
        "max_attempts": 3,
        "run_at": utcnow(),
    }
    values.update(overrides)
    return NewJob(**values)  # type: ignore[arg-type]


def lease() -> object:
    return utcnow() + timedelta(seconds=60)


def succeed(
    store: Store, worker: str, job_id: int, attempt: int = 1, ago: timedelta = timedelta(0)
) -> set[int]:
    at = utcnow() - ago
    return store.acknowledge(worker, [Outcome(job_id, attempt, "succeeded", at, at, '{"ok": 1}')])


def test_enqueue_then_claim_returns_the_job_with_its_payload(store: Store) -> None:
    (result,) = store.enqueue([new_job(payload='{"a": [1, 2]}')], utcnow())
    assert result.created
    (job,) = store.claim(W1, None, 10, utcnow(), lease())
    assert (job.id, job.type, job.payload, job.attempt) == (result.id, "noop", {"a": [1, 2]}, 1)
    record = store.get_job(job.id)
    assert record is not None and record.state == "running" and record.worker_id == W1


@pytest.mark.parametrize("alone", [False, True], ids=["batch", "alone"])
def test_a_job_keeps_every_field_whatever_its_text_holds(store: Store, alone: bool) -> None:
    """The bulk insert (COPY on PostgreSQL) and one job alone (one
    statement on PostgreSQL): backslashes, tabs, line ends and quotes survive; NULLs stay
    NULL; columns jobs share are not mixed up."""
    import json

    now = utcnow()
    odd = json.dumps({"s": 'tab\there \\ back\nline\r "q" é \u2028', "n": 1.5})
    jobs = [
        new_job(payload=odd, queue="q\\one", requested_by="operator:a\tb", time_limit=5.5),
        new_job(payload="{}", priority=-3, max_attempts=1, run_at=now - timedelta(seconds=9)),
        new_job(payload=odd, queue="q\\one", requested_by="operator:a\tb", time_limit=5.5),
    ]
    results = (
        [r for j in jobs for r in store.enqueue([j], now)] if alone else store.enqueue(jobs, now)
    )
    assert len({r.id for r in results}) == 3 and all(r.created for r in results)
    for result, job in zip(results, jobs, strict=True):
        record = store.get_job(result.id)
        assert record is not None
        assert record.payload == json.loads(job.payload)
        kept = (record.queue, record.priority, record.max_attempts, record.run_at)
        assert kept == (job.queue, job.priority, job.max_attempts, job.run_at)
        assert (record.requested_by, record.time_limit) == (job.requested_by, job.time_limit)
        assert (record.state, record.created_at) == ("queued", now)


def test_batch_enqueue_gives_distinct_ids_in_order(store: Store) -> None:
    results = store.enqueue([new_job() for _ in range(500)], utcnow())
    ids = [r.id for r in results]
    assert len(set(ids)) == 500 and ids == sorted(ids)
    assert {j.id for j in store.list_jobs(limit=1000)} == set(ids)


def test_claim_orders_by_priority_then_time_and_respects_limit(store: Store) -> None:
    now = utcnow()
    low = store.enqueue([new_job(priority=0, run_at=now - timedelta(seconds=5))], now)[0].id
    high = store.enqueue([new_job(priority=10)], now)[0].id
    older = store.enqueue([new_job(priority=0, run_at=now - timedelta(seconds=9))], now)[0].id
    claimed = store.claim(W1, None, 2, utcnow(), lease())
    assert [j.id for j in claimed] == [high, older]
    assert [j.id for j in store.claim(W1, None, 5, utcnow(), lease())] == [low]


def test_a_job_is_not_claimed_before_its_time_nor_twice(store: Store) -> None:
    now = utcnow()
    store.enqueue([new_job(run_at=now + timedelta(hours=1)), new_job()], now)
    first = store.claim(W1, None, 10, utcnow(), lease())
    assert len(first) == 1
    assert store.claim(W2, None, 10, utcnow(), lease()) == []


def test_claim_filters_by_queue(store: Store) -> None:
    now = utcnow()
    store.enqueue([new_job(queue="mail"), new_job(queue="backups")], now)
    (job,) = store.claim(W1, ["backups"], 10, utcnow(), lease())
    assert job.queue == "backups"


def test_finish_records_outcome_and_attempt(store: Store) -> None:
    (r,) = store.enqueue([new_job()], utcnow())
    store.claim(W1, None, 1, utcnow(), lease())
    assert succeed(store, W1, r.id) == {r.id}
    job = store.get_job(r.id)
    assert job is not None
    assert (job.state, job.result, job.worker_id, job.lease_expires_at) == (
        "succeeded",
        {"ok": 1},
        None,
        None,
    )
    (attempt,) = store.job_attempts(r.id)
    assert (attempt.attempt, attempt.outcome, attempt.worker_id) == (1, "succeeded", W1)


def test_a_retry_is_queued_for_later_and_claimed_when_due(store: Store) -> None:
    (r,) = store.enqueue([new_job()], utcnow())
    store.claim(W1, None, 1, utcnow(), lease())
    now = utcnow()
    retry_at = now + timedelta(milliseconds=300)
    store.acknowledge(
        W1, [Outcome(r.id, 1, "queued", now, now, None, "boom", "tb", run_at=retry_at)]
    )
    job = store.get_job(r.id)
    assert job is not None and job.state == "queued" and job.last_error == "boom"
    assert store.claim(W1, None, 1, utcnow(), lease()) == []
    (again,) = store.claim(W1, None, 1, retry_at + timedelta(milliseconds=1), lease())
    assert again.attempt == 2
    attempts = store.job_attempts(r.id)
    assert [(a.outcome, a.error, a.traceback) for a in attempts] == [("failed", "boom", "tb")]


def test_an_outcome_from_a_worker_that_lost_the_lease_is_ignored(store: Store) -> None:
    (r,) = store.enqueue([new_job()], utcnow())
    store.claim(W1, None, 1, utcnow(), utcnow() - timedelta(seconds=1))
    assert store.rescue_expired(utcnow(), max_rescues=5) == 1
    store.claim(W2, None, 1, utcnow(), lease())
    assert succeed(store, W1, r.id) == set()
    job = store.get_job(r.id)
    assert job is not None and job.state == "running" and job.worker_id == W2
    # nor are the writes it asked to make with its outcome
    written: list[object] = []
    at = utcnow()
    late = Outcome(r.id, 1, "succeeded", at, at, None, writes=written.append)
    assert store.acknowledge(W1, [late]) == set() and written == []
    assert store.acknowledge(W2, [late]) == {r.id} and len(written) == 1


def test_outcomes_are_recorded_with_their_times_whoever_encoded_them(store: Store) -> None:
    # a worker's runners encode their outcomes (`encoded`); other callers leave it to the store
    first, second = store.enqueue([new_job(), new_job()], utcnow())
    store.claim(W1, None, 2, utcnow(), lease())
    started = utcnow() - timedelta(seconds=5)
    finished, retry_at = started + timedelta(seconds=2), started + timedelta(hours=1)
    failed = Outcome(
        first.id, 1, "failed", started, finished, None, "boom", "tb", None, "timed_out"
    )
    retried = Outcome(second.id, 1, "queued", started, finished, None, "again", run_at=retry_at)
    assert store.acknowledge(W1, [failed, encoded(store, retried)]) == {first.id, second.id}
    for outcome, shown in ((failed, "timed_out"), (retried, "failed")):
        (attempt,) = store.job_attempts(outcome.job_id)
        assert (attempt.outcome, attempt.started_at, attempt.finished_at, attempt.error) == (
            shown,
            started,
            finished,
            outcome.error,
        )
    job, again = store.get_job(first.id), store.get_job(second.id)
    assert job is not None and (job.state, job.finished_at, job.last_error) == (
        "failed",
        finished,
        "boom",
    )
    assert again is not None and (again.state, again.run_at, again.finished_at) == (
        "queued",
        retry_at,
        None,
    )


def test_rows_of_the_outcomes_recorded_at_once_are_written_by_one_call_a_kind(
    store: Store,
) -> None:
    jobs = store.enqueue([new_job() for _ in range(4)], utcnow())
    store.claim(W1, None, 4, utcnow(), lease())
    lost = jobs[3].id
    store.release(W1, [lost])  # this worker no longer holds it
    made: list[tuple[str, list[str]]] = []  # (kind, rows), or ("own", [job id])

    def written(kind: str) -> Callable[[object, list[str]], None]:
        return lambda cursor, rows: made.append((kind, rows))

    def outcome(job_id: int) -> Outcome:
        at = utcnow()
        rows = tuple(
            OutcomeRow(kind, f"{kind}{job_id}", written(kind)) for kind in ("a", "b")
        )  # fmt: skip
        return Outcome(job_id, 1, "succeeded", at, at, None, rows=rows,
                       writes=lambda cursor: made.append(("own", [str(job_id)])))  # fmt: skip

    held = store.acknowledge(W1, [outcome(r.id) for r in jobs])
    assert held == {r.id for r in jobs[:3]}
    ids = [r.id for r in jobs[:3]]
    # the rows first, a call a kind; then each attempt's own writes; nothing of the lost job
    assert made == [("a", [f"a{i}" for i in ids]), ("b", [f"b{i}" for i in ids])] + [
        ("own", [str(i)]) for i in ids
    ]


def test_a_row_that_cannot_be_written_fails_its_own_job_only(store: Store) -> None:
    jobs = store.enqueue([new_job() for _ in range(3)], utcnow())
    store.claim(W1, None, 3, utcnow(), lease())
    bad = jobs[1].id

    def write(cursor: Any, rows: list[str]) -> None:
        if str(bad) in rows:
            cursor.execute("SELECT no_such_column FROM jobs")

    at = utcnow()
    outcomes = [
        Outcome(r.id, 1, "succeeded", at, at, None, rows=(OutcomeRow("k", str(r.id), write),))
        for r in jobs
    ]
    assert store.acknowledge(W1, outcomes) == {r.id for r in jobs}
    found = [store.get_job(r.id) for r in jobs]
    assert [job.state if job else None for job in found] == ["succeeded", "failed", "succeeded"]
    failed = found[1]
    assert failed is not None and "recording the attempt failed" in (failed.last_error or "")


def test_acknowledge_and_claim_records_and_claims_on_one_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = store.enqueue([new_job(), new_job()], utcnow())
    store.claim(W1, None, 1, utcnow(), lease())
    at = utcnow()
    done = Outcome(first.id, 1, "succeeded", at, at, None)
    held, claimed = store.acknowledge_and_claim(W1, [done], Claim(None, 10, utcnow(), lease()))
    assert held == {first.id} and [job.id for job in claimed] == [second.id]
    job = store.get_job(second.id)
    assert job is not None and job.state == "running" and job.worker_id == W1
    # should the claim fail, the outcome is not recorded either: the two commit together
    monkeypatch.setitem(store.queries, "claim_jobs", "SELECT no_such_column FROM jobs")
    redo = Outcome(second.id, 1, "succeeded", at, at, None)
    with pytest.raises(Exception, match="no_such_column"):
        store.acknowledge_and_claim(W1, [redo], Claim(None, 10, utcnow(), lease()))
    job = store.get_job(second.id)
    assert job is not None and job.state == "running"


def test_rescue_requeues_expired_leases_without_using_an_attempt(store: Store) -> None:
    (r,) = store.enqueue([new_job(max_attempts=1)], utcnow())
    store.claim(W1, None, 1, utcnow(), utcnow() - timedelta(seconds=1))
    assert store.rescue_expired(utcnow(), max_rescues=5) == 1
    job = store.get_job(r.id)
    assert job is not None
    assert (job.state, job.attempts, job.rescues, job.worker_id) == ("queued", 0, 1, None)
    assert [a.outcome for a in store.job_attempts(r.id)] == ["lost"]
    assert store.rescue_expired(utcnow(), max_rescues=5) == 0


def test_renewed_leases_are_not_rescued(store: Store) -> None:
    store.enqueue([new_job()], utcnow())
    store.claim(W1, None, 1, utcnow(), utcnow() - timedelta(seconds=1))
    assert store.renew_leases(W1, lease()) == 1
    assert store.rescue_expired(utcnow(), max_rescues=5) == 0


def test_a_job_that_keeps_losing_its_worker_fails(store: Store) -> None:
    (r,) = store.enqueue([new_job()], utcnow())
    for _ in range(3):
        store.claim(W1, None, 1, utcnow(), utcnow() - timedelta(seconds=1))
        store.rescue_expired(utcnow(), max_rescues=2)
    job = store.get_job(r.id)
    assert job is not None and job.state == "failed" and "lost its lease" in (job.last_error or "")


def test_release_puts_jobs_back_unstarted(store: Store) -> None:
    (r,) = store.enqueue([new_job()], utcnow())
    store.claim(W1, None, 1, utcnow(), lease())
    assert store.release(W2, [r.id]) == 0
    assert store.release(W1, [r.id]) == 1
    job = store.get_job(r.id)
    assert job is not None and (job.state, job.attempts) == ("queued", 0)


def test_idempotency_key_returns_the_active_job(store: Store) -> None:
    now = utcnow()
    first, dup_in_batch = store.enqueue([new_job(idempotency_key="k1")] * 2, now)
    assert first.created and not dup_in_batch.created and dup_in_batch.id == first.id
    (again,) = store.enqueue([new_job(idempotency_key="k1")], now)
    assert (again.id, again.created) == (first.id, False)
    store.claim(W1, None, 1, utcnow(), lease())
    succeed(store, W1, first.id)
    (after,) = store.enqueue([new_job(idempotency_key="k1")], now)
    assert after.created and after.id != first.id


def test_inserting_a_claimed_job(store: Store) -> None:
    (r,) = store.enqueue([new_job(worker_id=W1, lease_expires_at=lease())], utcnow())
    job = store.get_job(r.id)
    assert job is not None and (job.state, job.worker_id, job.attempts) == ("running", W1, 1)
    assert store.claim(W2, None, 10, utcnow(), lease()) == []


def test_cancel_and_retry(store: Store) -> None:
    (r,) = store.enqueue([new_job()], utcnow())
    assert store.cancel_job(r.id, utcnow())
    assert not store.cancel_job(r.id, utcnow())
    assert store.claim(W1, None, 10, utcnow(), lease()) == []
    assert store.retry_job(r.id, utcnow())
    job = store.get_job(r.id)
    assert job is not None and job.state == "queued"


def test_what_follows_a_cancel_or_retry_commits_with_it_or_undoes_it(store: Store) -> None:
    """`then` (an audit event of the change) runs on the change's transaction: should it
    fail, the job is as it was."""
    (r,) = store.enqueue([new_job()], utcnow())

    def fails(cursor: object) -> None:
        raise RuntimeError("the audit event could not be written")

    with pytest.raises(RuntimeError):
        store.cancel_job(r.id, utcnow(), fails)
    assert store.get_job(r.id).state == "queued"  # type: ignore[union-attr]
    seen: list[object] = []
    assert store.cancel_job(r.id, utcnow(), seen.append) and len(seen) == 1
    with pytest.raises(RuntimeError):
        store.retry_job(r.id, utcnow(), fails)
    assert store.get_job(r.id).state == "cancelled"  # type: ignore[union-attr]
    assert not store.cancel_job(r.id, utcnow(), seen.append) and len(seen) == 1  # no change


def test_retry_refuses_when_the_key_is_taken(store: Store) -> None:
    (r,) = store.enqueue([new_job(idempotency_key="k")], utcnow())
    store.cancel_job(r.id, utcnow())
    store.enqueue([new_job(idempotency_key="k")], utcnow())
    with pytest.raises(InvalidStateError, match="idempotency key"):
        store.retry_job(r.id, utcnow())


def test_purge_deletes_old_finished_jobs_only(store: Store) -> None:
    old, fresh, waiting = store.enqueue([new_job(), new_job(), new_job()], utcnow())
    store.claim(W1, None, 2, utcnow(), lease())
    succeed(store, W1, old.id, ago=timedelta(hours=2))
    succeed(store, W1, fresh.id, ago=timedelta(minutes=1))
    cutoff = utcnow() - timedelta(hours=1)
    assert store.count_purgeable(cutoff) == 1
    assert store.purge_jobs(cutoff) == 1
    assert sorted(j.id for j in store.list_jobs()) == [fresh.id, waiting.id]
    assert store.job_attempts(old.id) == []
    assert len(store.job_attempts(fresh.id)) == 1


def test_counts_and_oldest_due(store: Store) -> None:
    now = utcnow()
    store.enqueue([new_job(run_at=now - timedelta(seconds=30)), new_job(type="other")], now)
    assert sorted(store.job_counts()) == [("queued", "noop", 1), ("queued", "other", 1)]
    oldest = store.oldest_due(utcnow())
    assert oldest is not None and (utcnow() - oldest) >= timedelta(seconds=30)


def test_list_filters(store: Store) -> None:
    now = utcnow()
    store.enqueue([new_job(), new_job(type="other", queue="q2")], now)
    assert [j.type for j in store.list_jobs(type="other")] == ["other"]
    assert [j.queue for j in store.list_jobs(queue="q2")] == ["q2"]
    assert store.list_jobs(state="failed") == []


def test_upgrade_is_idempotent_and_status_current(store: Store) -> None:
    assert store.upgrade(utcnow()) == []
    status = store.schema_status()
    assert status.current == status.latest and not status.pending


def test_enqueue_on_the_callers_transaction_commits_or_rolls_back_with_the_change(
    store: Store,
) -> None:
    from pjobs.control import ControlPlane

    control = ControlPlane(store)

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), control.tx(utcnow()) as tx:
        tx.owners.ensure("owner-rolled-back")
        tx.jobs.enqueue([new_job()])
        tx.jobs.enqueue([new_job(idempotency_key="k-rolled-back"), *[new_job()] * 300])
        raise Abandon
    with control.tx(utcnow(), write=False) as tx:
        assert tx.owners.get("owner-rolled-back") is None
    assert store.list_jobs(limit=1000) == []

    with control.tx(utcnow()) as tx:
        tx.owners.ensure("owner-committed")
        single = tx.jobs.enqueue([new_job()])
        bulk = tx.jobs.enqueue([new_job(idempotency_key="k-committed"), *[new_job()] * 300])
    with control.tx(utcnow(), write=False) as tx:
        assert tx.owners.get("owner-committed") is not None
    ids = {r.id for r in single + bulk}
    assert len(ids) == 302 and {j.id for j in store.list_jobs(limit=1000)} == ids
    assert len(store.claim(W1, None, 1000, utcnow(), lease())) == 302


def test_the_audit_trail_refuses_update_delete_and_truncate(store: Store) -> None:
    from pjobs.control import ControlPlane
    from pjobs.errors import PjobsError

    with ControlPlane(store).tx(utcnow()) as tx:
        tx.audit.append("alice", "owner.updated", None, "owner:o-1", {"email": "a@b.c"})
    statements = ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"]
    if store.dialect == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(PjobsError), store.transaction() as cursor:
            cursor.execute(statement)
    with ControlPlane(store).tx(utcnow(), write=False) as tx:
        (event,) = tx.audit.list()
    assert (event.actor, event.action, event.data) == ("alice", "owner.updated", {"email": "a@b.c"})


@contextmanager
def computing_beside() -> Iterator[None]:
    """A thread that computes in Python (a handler) while the block runs."""
    computing = threading.Event()
    stop = threading.Event()

    def compute() -> None:
        while not stop.is_set():
            computing.set()
            sum(range(1000))

    handler = threading.Thread(target=compute, daemon=True)
    handler.start()
    try:
        assert computing.wait(10)
        yield
    finally:
        stop.set()
        handler.join(10)


def test_a_turn_is_not_held_up_by_a_thread_that_computes(store: Store) -> None:
    """A worker's turn (record a thousand outcomes, claim a thousand jobs) gives up the
    interpreter's lock a few times, not once a row: each time, a thread that computes in
    Python (a handler) may keep it. Once a row, such a turn took 0.8-1.0 s on SQLite here;
    a few times, 0.06-0.08 s (and on PostgreSQL)."""
    store.enqueue([new_job() for _ in range(2000)], utcnow())
    at = utcnow()
    outcomes = [
        Outcome(j.id, 1, "succeeded", at, at) for j in store.claim(W1, None, 1000, at, lease())
    ]
    with computing_beside():
        started = time.monotonic()
        held, claimed = store.acknowledge_and_claim(
            W1, outcomes, Claim(None, 1000, utcnow(), lease())
        )
        took = time.monotonic() - started
    assert len(held) == 1000 and len(claimed) == 1000
    assert took < 0.4, f"a turn took {took:.1f} s beside a thread that computes"


def test_the_deliveries_of_a_claim_are_read_at_once_beside_a_thread_that_computes(
    store: Store,
) -> None:
    """What a worker reads for the webhook deliveries it claimed (`deliveries_to_send`,
    a thousand at most) gives up the interpreter's lock a few times, not once a row. Once a
    row, a thousand took 14-16 s on SQLite here beside a thread that computes; 0.01-0.04 s
    packed into one."""
    from pjobs.control import ControlPlane

    control = ControlPlane(store)
    ids = [f"msg_{n}" for n in range(1000)]
    with control.tx(utcnow()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-1", "P", "owner-1", "eu", "free")
        tx.webhooks.add_endpoint("we_1", "proj-1", "https://hooks.example/1", [], None, "s")
        for delivery_id in ids:
            tx.webhooks.add_delivery(delivery_id, "we_1", "webhook.test", '{"n":"a\\tb"}')
    with computing_beside(), control.tx(utcnow()) as tx:
        started = time.monotonic()
        found = tx.webhooks.deliveries_to_send(ids)
        took = time.monotonic() - started
    assert sorted(found) == sorted(ids)
    delivery, endpoint = found["msg_7"]
    read = (delivery.id, delivery.body, delivery.attempts, delivery.job_id)
    assert read == ("msg_7", '{"n":"a\\tb"}', 0, None)
    read_endpoint = (endpoint.id, endpoint.url, endpoint.events, endpoint.enabled)
    assert read_endpoint == ("we_1", "https://hooks.example/1", [], True)
    assert delivery.created_at.tzinfo is not None and endpoint is found["msg_8"][1]
    assert took < 0.4, f"reading the deliveries took {took:.1f} s beside a thread that computes"
