"""Quotas and abuse on both backends, in this process with a fixed clock: thresholds and
their boundaries, hard caps, billing periods, error spikes, excessive usage against a
baseline, protected projects, resume."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pjobs.app import App
from pjobs.control import ControlPlane, ControlTx
from pjobs.domain import abuse, apikeys
from pjobs.errors import NotFoundError
from pjobs.settings.config import Settings
from pjobs.store import Store
from pjobs.store.staging import EPOCH, UsageRecord, micros_of
from pjobs.timeutil import FixedClock

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app(store: Store, settings: Settings, clock: FixedClock) -> Iterator[App]:
    built = App(settings, store=store, clock=clock)
    yield built
    built.close()


def add_project(app: App, project_id: str, plan: str = "free", protected: bool = False) -> None:
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert(project_id, project_id, "owner-1", "eu-west-1", plan)
        tx.projects.set_status(project_id, "active")
        if protected:
            tx.projects.set_protected(project_id, True)


def record(
    app: App, project_id: str, metric: str, value: float, at: datetime | None = None
) -> None:
    gauge = app.settings.usage.metrics[metric] == "gauge"
    added = UsageRecord(1, project_id, metric, value, micros_of(at or app.clock.now()), gauge)
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.usage.add([added], EPOCH)


def override(app: App, project_id: str, metric: str, limit: float, hard: bool) -> None:
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.quotas.set_override(project_id, metric, limit, hard)


def check(app: App, **payload: Any) -> dict[str, Any]:
    job = app.queue.run_inline("check_usage_limits", {"all": True, **payload})
    assert job.state == "succeeded", job.last_error
    result: dict[str, Any] = job.result
    return result


def warnings_sent(app: App, project_id: str) -> list[tuple[str, str]]:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        notes = tx.notifications.list(project_id)
    return [(n.recipient, n.subject) for n in reversed(notes)]  # oldest first


def status(app: App, project_id: str) -> str:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        project = tx.projects.get(project_id)
    assert project is not None
    return project.status


def test_thresholds_warn_once_per_period_and_a_hard_cap_suspends(
    app: App, clock: FixedClock
) -> None:
    add_project(app, "proj-q")
    override(app, "proj-q", "requests", 10_000, hard=False)
    override(app, "proj-q", "bandwidth_bytes", 1_000, hard=True)
    record(app, "proj-q", "requests", 7_999)
    assert check(app)["over_threshold"] == 0 and warnings_sent(app, "proj-q") == []
    record(app, "proj-q", "requests", 1)  # 80 %
    assert check(app)["warned"] == 1
    assert warnings_sent(app, "proj-q") == [
        ("owner-1", "proj-q reached 80 % of its requests limit")
    ]
    assert check(app)["warned"] == 0 and len(warnings_sent(app, "proj-q")) == 1
    record(app, "proj-q", "requests", 1_000)  # 90 %
    assert check(app)["warned"] == 1
    record(app, "proj-q", "requests", 1_000)  # 100 % of a soft limit: a warning only
    result = check(app)
    assert (result["warned"], result["suspended"]) == (1, 0) and status(app, "proj-q") == "active"
    assert [s for _, s in warnings_sent(app, "proj-q")][-1] == (
        "proj-q reached 100 % of its requests limit"
    )
    record(app, "proj-q", "bandwidth_bytes", 999)  # 99.9 % of the hard cap
    assert check(app)["suspended"] == 0 and status(app, "proj-q") == "active"
    record(app, "proj-q", "bandwidth_bytes", 1)  # 100 % of the hard cap
    assert check(app)["suspended"] == 1 and status(app, "proj-q") == "suspended"
    with ControlPlane(app.store).tx(clock.now(), write=False) as tx:
        project = tx.projects.get("proj-q")
        events = [e.type for e in tx.events.list("proj-q")]
    assert project is not None and "bandwidth_bytes 1,000 of 1,000" in (
        project.suspension_reason or ""
    )
    assert events.count("quota.warning") == 4 and events[0] == "project.suspended"  # newest

    resumed = app.queue.run_inline("resume_project", {"project_id": "proj-q", "reason": "paid"})
    assert resumed.state == "succeeded" and status(app, "proj-q") == "active"
    clock.advance(timedelta(days=15))  # December: a new billing period
    record(app, "proj-q", "requests", 8_000)
    before = len(warnings_sent(app, "proj-q"))
    assert check(app)["warned"] == 1 and len(warnings_sent(app, "proj-q")) == before + 1


def test_a_suspended_project_keys_stop_verifying_and_resume_restores_them(
    app: App,
) -> None:
    job = app.queue.run_inline(
        "provision_project",
        {
            "project_id": "proj-k",
            "name": "K",
            "owner_id": "owner-1",
            "region": "eu",
            "plan": "free",
        },
    )
    assert job.state == "succeeded", job.last_error
    secret = app.queue.revealed[job.id]["secret_key"]
    suspended = app.queue.run_inline(
        "auto_suspend", {"project_id": "proj-k", "reason": "phishing reported"}
    )
    assert suspended.state == "succeeded" and suspended.result["action"] == "suspended"
    assert apikeys.verify(app.store, secret, app.clock.now()).verdict == "project_not_active"
    again = app.queue.run_inline("auto_suspend", {"project_id": "proj-k", "reason": "again"})
    assert again.result["action"] == "already_suspended"
    resumed = app.queue.run_inline("resume_project", {"project_id": "proj-k"})
    assert resumed.state == "succeeded" and resumed.result["resumed"] is True
    assert apikeys.verify(app.store, secret, app.clock.now()).verdict == "valid"


def test_usage_is_added_only_for_projects_that_exist(app: App) -> None:
    # usage rows carry no reference to their project: the noun's check is the only one
    add_project(app, "proj-u")
    with pytest.raises(NotFoundError, match="no project proj-nope"):
        record(app, "proj-nope", "requests", 5)
    record(app, "proj-u", "requests", 5)
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        assert [t.project_id for t in tx.usage.totals("proj-u", "2026-11")] == ["proj-u"]
        assert tx.usage.totals("proj-nope", "2026-11") == []
        assert tx.usage.window_of("proj-nope", NOW - timedelta(days=1), NOW) == (0.0, 0.0)


def in_window(minutes_ago: int = 0) -> datetime:
    return NOW.replace(second=0) - timedelta(minutes=minutes_ago)


def test_error_spikes_need_volume(app: App) -> None:
    add_project(app, "proj-big")
    add_project(app, "proj-small")
    record(app, "proj-big", "requests", 1_000, in_window(1))
    record(app, "proj-big", "errors", 600, in_window(1))
    record(app, "proj-small", "requests", 5, in_window(1))
    record(app, "proj-small", "errors", 3, in_window(1))
    scan = app.queue.run_inline("scan_abuse", {"all": True})
    assert scan.state == "succeeded", scan.last_error
    assert [(f["project_id"], f["pattern"]) for f in scan.result["findings"]] == [
        ("proj-big", "error_spike")
    ]
    assert status(app, "proj-big") == "suspended" and status(app, "proj-small") == "active"
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        (detection,) = tx.abuse.list("proj-big")
    assert (detection.pattern, detection.held, detection.action) == (
        "error_spike",
        True,
        "suspended",
    )
    small = app.queue.run_inline(
        "auto_suspend", {"project_id": "proj-small", "pattern": "error_spike"}
    )
    assert small.result["action"] == "nothing" and "minimum volume" in small.result["reason"]


def test_excessive_usage_is_judged_against_the_baseline(app: App) -> None:
    for project_id in ("proj-11x", "proj-9x", "proj-new"):
        add_project(app, project_id)
    for days_ago in range(1, 8):  # a baseline of 100 requests a minute
        day = NOW - timedelta(days=days_ago)
        record(app, "proj-11x", "requests", 144_000, day)
        record(app, "proj-9x", "requests", 144_000, day)
    window = app.settings.abuse.window_seconds / 60
    record(app, "proj-11x", "requests", 1_100 * window, in_window(2))
    record(app, "proj-9x", "requests", 900 * window, in_window(2))
    record(app, "proj-new", "requests", 100_000, in_window(2))  # no history: no baseline
    scan = app.queue.run_inline("scan_abuse", {"all": True})
    assert scan.state == "succeeded", scan.last_error
    assert [(f["project_id"], f["pattern"]) for f in scan.result["findings"]] == [
        ("proj-11x", "excessive_usage")
    ]
    assert status(app, "proj-11x") == "suspended"
    assert status(app, "proj-9x") == "active" and status(app, "proj-new") == "active"
    nine = app.queue.run_inline(
        "auto_suspend", {"project_id": "proj-9x", "pattern": "excessive_usage"}
    )
    assert nine.result["action"] == "nothing" and "9.0x the baseline 100" in nine.result["reason"]
    new = app.queue.run_inline(
        "auto_suspend", {"project_id": "proj-new", "pattern": "excessive_usage"}
    )
    assert new.result["action"] == "nothing" and "no baseline" in new.result["reason"]


def test_protected_projects_are_reported_not_suspended(app: App) -> None:
    add_project(app, "proj-vip", protected=True)
    override(app, "proj-vip", "requests", 100, hard=True)
    record(app, "proj-vip", "requests", 500)
    assert check(app)["protected"] == 1 and status(app, "proj-vip") == "active"
    flagged = app.queue.run_inline(
        "auto_suspend", {"project_id": "proj-vip", "pattern": "suspicious_pattern"}
    )
    assert flagged.result["action"] == "protected" and status(app, "proj-vip") == "active"
    refused = app.queue.run_inline("auto_suspend", {"project_id": "proj-vip", "reason": "x"})
    assert refused.state == "failed" and refused.result == {"exit_code": 65}
    forced = app.queue.run_inline(
        "auto_suspend", {"project_id": "proj-vip", "reason": "x", "force": True}
    )
    assert forced.result["action"] == "suspended" and status(app, "proj-vip") == "suspended"
    recipients = {r for r, _ in warnings_sent(app, "proj-vip")}
    assert "operators" in recipients


@pytest.mark.parametrize(
    ("daily", "median"),
    [
        ([1440 * 7], 7),  # one day
        ([1440 * 40, 1440 * 10, 1440 * 30, 1440 * 20], 25),  # even: the mean of the middle two
        ([1440 * 9, 0, 1440 * 1, 1440 * 5, 0], 5),  # odd; days without requests do not count
        ([1440 * 3] * 7 + [1440 * 1000], 3),  # the day before the window does not count
    ],
)
def test_the_baseline_is_the_median_of_the_days_with_traffic(
    app: App, daily: list[float], median: float
) -> None:
    add_project(app, "proj-med")
    for days_ago, requests in enumerate(daily, start=1):
        record(app, "proj-med", "requests", requests, NOW - timedelta(days=days_ago))
    today = NOW.date()
    with ControlPlane(app.store).tx(NOW) as tx:
        tx.usage.recompute_baselines(today, 7)
        assert tx.usage.baseline_of("proj-med") == pytest.approx(median)


def test_a_check_suspends_at_hard_caps_in_as_many_statements_however_many_projects(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    run, run_many = ControlTx.run, ControlTx.run_many

    def counted_run(tx: ControlTx, query: str, **params: Any) -> Any:
        statements.append(query)
        return run(tx, query, **params)

    def counted_run_many(tx: ControlTx, query: str, rows: list[dict[str, Any]]) -> None:
        statements.append(query)
        run_many(tx, query, rows)

    monkeypatch.setattr(ControlTx, "run", counted_run)
    monkeypatch.setattr(ControlTx, "run_many", counted_run_many)

    def statements_of_a_check(projects: int, prefix: str) -> int:
        for n in range(projects):
            project_id = f"{prefix}-{n}"
            add_project(app, project_id)
            override(app, project_id, "requests", 100, hard=True)
            override(app, project_id, "bandwidth_bytes", 100, hard=True)
            record(app, project_id, "requests", 100)
            record(app, project_id, "bandwidth_bytes", 150)
        statements.clear()
        result = check(app)
        counted = len(statements)
        assert result["suspended"] == projects  # each once, though over two caps
        for n in range(projects):
            assert status(app, f"{prefix}-{n}") == "suspended"
        return counted

    assert statements_of_a_check(2, "proj-few") == statements_of_a_check(12, "proj-many")
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        project = tx.projects.get("proj-many-3")
        events = [(e.type, e.data) for e in tx.events.list("proj-many-3")]
    assert project is not None and project.suspension_reason == (
        "hard cap reached: bandwidth_bytes 150 of 100 (150 %); requests 100 of 100 (100 %)"
    )  # every cap it reached, in the order of their metrics
    assert [data for kind, data in events if kind == "project.suspended"] == [
        {"reason": project.suspension_reason, "metric": "bandwidth_bytes", "value": 150.0,
         "limit": 100.0}
    ]  # fmt: skip


def test_the_scan_finds_what_judging_every_project_alone_finds(app: App) -> None:
    """The scan's query passes on only the projects a pattern may hold for; none it drops
    may be one `abuse.evaluate` finds, at the boundaries and where rounding the figures to
    3 decimals tips the balance (a baseline of 0.0014 a minute is judged as 0.001)."""
    minutes = app.settings.abuse.window_seconds / 60
    cases: list[tuple[float | None, float, float]] = []  # daily requests, window's, errors
    for daily in (1.0, 2.016, 720.0, 144_000.0):
        for factor in (9.99, 10.0, 10.0001, 10.01, 11.0):
            cases.append((daily, factor * daily / 1440 * minutes, 0.0))
    for requests in (99.0, 100.0, 101.0, 1000.0):
        for share in (0.4999, 0.5, 0.5001, 0.6):
            cases.append((None, requests, requests * share))
    records: list[UsageRecord] = []

    def add(project_id: str, metric: str, value: float, at: datetime) -> None:
        records.append(
            UsageRecord(len(records) + 1, project_id, metric, value, micros_of(at), False)
        )

    project_ids = []
    for n, (daily, requests, errors) in enumerate(cases):
        project_id = f"proj-edge-{n:02d}"
        project_ids.append(project_id)
        add_project(app, project_id)
        for days_ago in range(1, 8) if daily else ():
            add(project_id, "requests", daily, NOW - timedelta(days=days_ago))
        add(project_id, "requests", requests, in_window(1))
        add(project_id, "errors", errors, in_window(1))
    with ControlPlane(app.store).tx(NOW) as tx:
        tx.usage.add(records, EPOCH)
    scan = app.queue.run_inline("scan_abuse", {"all": True, "enforce": False})
    assert scan.state == "succeeded", scan.last_error
    found = {(f["project_id"], f["pattern"]) for f in scan.result["findings"]}
    judged = set()
    with ControlPlane(app.store).tx(NOW, write=False) as tx:
        for project_id in project_ids:
            metrics = abuse.measured(tx, project_id, NOW, app.settings.abuse.window_seconds)
            for pattern in ("excessive_usage", "error_spike"):
                if abuse.evaluate(pattern, metrics, app.settings).held:
                    judged.add((project_id, pattern))
    assert found == judged
    assert ("proj-edge-05", "excessive_usage") in judged  # 9.99 times 0.0014, judged 14 times 0.001
    assert len(judged) == 16 and scan.result["checked"] == len(cases)


def test_a_scan_enqueues_the_suspensions_it_finds_at_once(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue_on = type(app.store).enqueue_on
    batches: list[list[str]] = []

    def counted(store: Store, cursor: Any, jobs: Any, now: datetime) -> Any:
        batches.append([job.type for job in jobs])
        return enqueue_on(store, cursor, jobs, now)

    monkeypatch.setattr(type(app.store), "enqueue_on", counted)

    def auto_suspend_batches(projects: int, prefix: str) -> list[list[str]]:
        for n in range(projects):
            project_id = f"{prefix}-{n}"
            add_project(app, project_id)
            record(app, project_id, "requests", 1_000, in_window(1))
            record(app, project_id, "errors", 600, in_window(1))
        batches.clear()
        scan = app.queue.run_inline("scan_abuse", {"all": True})
        assert scan.state == "succeeded", scan.last_error
        assert len(scan.result["auto_suspend_jobs"]) == projects
        for n in range(projects):
            assert status(app, f"{prefix}-{n}") == "suspended"
        return [batch for batch in batches if "auto_suspend" in batch]

    assert auto_suspend_batches(2, "proj-two") == [["auto_suspend"] * 2]
    assert auto_suspend_batches(6, "proj-six") == [["auto_suspend"] * 6]


def test_huge_values_are_refused_totals_stay_finite_and_bad_data_stops_no_check(
    app: App,
) -> None:
    """A value above 1e15 is refused; totals stop at 1e18; and a total an earlier pjobs
    let grow past any bound (written here by SQL) is reported while the other projects'
    hard caps are enforced."""
    from pjobs.domain.usage import usage_value
    from pjobs.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="≤ 1e15"):
        usage_value(1e308, "value")
    assert usage_value(1e15, "value") == 1e15
    add_project(app, "proj-big")
    add_project(app, "proj-over")
    override(app, "proj-over", "requests", 100, hard=True)
    for _ in range(1100):  # 1.1e18 added up: the total stops at 1e18
        record(app, "proj-big", "requests", 1e15)
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        (total,) = [t.value for t in tx.usage.totals("proj-big", "2026-11")]
    assert total == 1e18
    with app.store.transaction() as cursor:  # what an earlier pjobs could hold
        cursor.execute("UPDATE usage_totals SET value = 1.7e308 WHERE project_id = 'proj-big'")
    record(app, "proj-over", "requests", 200)  # 200 % of a hard cap
    result = check(app)
    assert status(app, "proj-over") == "suspended" and result["suspended"] == 1
    assert [b["project_id"] for b in result["bad_data"]] == ["proj-big"]
    assert status(app, "proj-big") == "active"
