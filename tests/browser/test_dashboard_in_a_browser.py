"""The dashboard in a real headless Chromium (Debian's chromium, driven by Selenium through
Debian's chromedriver; nothing is downloaded), against `pjobs serve --http` as an operator
runs it: sign in, the overview's counts against `jobs stats --json`, a failed job's
traceback, a bulk retry after its count is confirmed, a counter changing live after an
enqueue from the CLI, read-only mode, and a hostile project name. A screenshot of each
page is saved under build/screenshots/ for a person to look at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import CLI, TESTS, Background, cli_env, require_browser
from support.listener import answers, free_port
from support.waiting import until

OPS = "o" * 40
VIEWER = "v" * 40
HOSTILE = '<img src=x onerror="document.title=1"><script>document.title="owned"</script>'
SCREENSHOTS = TESTS.parent / "build" / "screenshots"

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[CLI, str]]:
    """`pjobs serve --http` on the embedded SQLite store, with two dashboard tokens."""
    for name, token in (("ops", OPS), ("viewer", VIEWER)):
        (tmp_path / name).write_text(token)
        (tmp_path / name).chmod(0o600)
    tokens = [
        {"name": "ops", "token_file": str(tmp_path / "ops"), "actions": True},
        {"name": "viewer", "token_file": str(tmp_path / "viewer")},
    ]
    env = cli_env(tmp_path, None) | {
        "PJOBS_UI__TOKENS": json.dumps(tokens),
        "PJOBS_UI__REFRESH_SECONDS": "0.5",
        "PJOBS_RECEIVER__TOKEN": "r" * 40,
    }
    cli = CLI(env, tmp_path / "logs")
    assert cli("db", "upgrade").returncode == 0
    base = f"http://127.0.0.1:{free_port()}"
    serve: Background = cli.popen("serve", "--http", base.removeprefix("http://"))
    until(lambda: answers(f"{base}/healthz") or serve.process.poll() is not None, 30, "serve")
    assert serve.process.poll() is None, serve.output()
    try:
        yield cli, base
    finally:
        serve.kill()


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100"):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.implicitly_wait(0)
    try:
        yield chrome
    finally:
        chrome.quit()


def ok(cli: CLI, *args: str) -> str:
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def text_of(browser: Any, element_id: str) -> str:
    """An element's text, read in one step (a live part may be swapped in between two)."""
    script = "const found = document.getElementById(arguments[0]); return found && found.innerText;"
    return str(browser.execute_script(script, element_id))


def shot(browser: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def sign_in(browser: Any, base: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{base}/ui/login")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    until(lambda: browser.current_url == f"{base}/ui/", 10, "the overview after signing in")


def test_an_operator_works_through_the_dashboard(served: tuple[CLI, str], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    cli, base = served
    ok(cli, "provision", "p-1", "--name", HOSTILE, "--owner", "owner-1")
    ok(cli, "jobs", "enqueue", "noop", "--count", "3")
    failing = '{"count": 1, "label": "boom"}'
    ok(
        cli,
        "jobs",
        "enqueue",
        "broken",
        "--payload",
        failing,
        "--max-attempts",
        "1",
        "--count",
        "2",
    )
    unwritable = '{"marker": "/nonexistent/m", "fail_times": 9}'  # fails, of another type
    ok(cli, "jobs", "enqueue", "flaky", "--payload", unwritable, "--max-attempts", "1")

    def settled() -> bool:
        states = cli.states()
        return states.get("queued", 0) + states.get("running", 0) == 0

    until(settled, 30, "serve to run every job")
    stats = cli.states()
    assert stats.get("failed") == 3

    # Sign in; the overview's counts are `jobs stats --json`'s.
    browser.get(f"{base}/ui/")
    assert browser.current_url == f"{base}/ui/login"
    shot(browser, "login")
    sign_in(browser, base, OPS)
    until(lambda: text_of(browser, "count-failed") == "3", 10, "the overview's counts")
    shown = {state: int(text_of(browser, f"count-{state}")) for state in stats}
    assert shown == stats
    assert text_of(browser, "workers-alive") == "1"  # the serve this test started
    shot(browser, "overview")

    # Filter jobs by state, open a failed job, read its traceback.
    browser.get(f"{base}/ui/jobs")
    Select(browser.find_element(By.ID, "filter-state")).select_by_value("failed")
    browser.find_element(By.ID, "filter-apply").click()
    until(lambda: "state=failed" in browser.current_url, 10, "the filtered list")
    rows = browser.find_elements(By.CSS_SELECTOR, "#jobs tr.job")
    assert len(rows) == 3 and all("failed" in row.text for row in rows)
    shot(browser, "jobs-failed")
    rows[0].find_element(By.CSS_SELECTOR, "a").click()
    until(lambda: browser.find_elements(By.CSS_SELECTOR, "pre.traceback"), 10, "a traceback")
    assert "Traceback (most recent call last)" in browser.find_element(
        By.CSS_SELECTOR, "pre.traceback").text  # fmt: skip
    shot(browser, "job-failed")

    # Bulk-retry the failed jobs of one type: the confirmation shows the count first.
    browser.get(f"{base}/ui/jobs?state=failed&type=broken")
    browser.find_element(By.ID, "bulk-retry").click()
    count = browser.find_element(By.ID, "confirm-count")
    assert count.get_attribute("data-count") == "2"
    shot(browser, "bulk-confirm")
    browser.find_element(By.CSS_SELECTOR, "form.action button").click()
    until(lambda: browser.find_elements(By.ID, "done"), 10, "the bulk retry")
    assert text_of(browser, "done") == "2 failed jobs queued again"
    until(settled, 30, "serve to run the retried jobs")
    audit = json.loads(ok(cli, "audit", "list", "--json"))["events"]
    assert any(e["actor"] == "ui:ops" and e["action"] == "jobs.retry" for e in audit), audit

    # A counter changes live after a job is enqueued from the CLI (no reload).
    browser.get(f"{base}/ui/")
    until(lambda: text_of(browser, "count-queued") == "0", 10, "no job queued")
    browser.execute_script("document.body.dataset.marker = 'not reloaded'")
    ok(cli, "jobs", "enqueue", "noop", "--delay", "1h")
    until(lambda: text_of(browser, "count-queued") == "1", 10, "the queued count to change live")
    assert browser.execute_script("return document.body.dataset.marker") == "not reloaded"

    # The hostile project name is text, not markup.
    browser.get(f"{base}/ui/projects")
    assert browser.find_element(By.CSS_SELECTOR, "#projects td.name").text == HOSTILE
    assert browser.title == "Projects · pjobs"
    shot(browser, "projects")
    browser.get(f"{base}/ui/projects/p-1")
    assert text_of(browser, "project-name") == HOSTILE and browser.title.startswith("Project p-1")
    shot(browser, "project")
    for page in ("alerts", "webhooks", "backups", "schedules"):
        browser.get(f"{base}/ui/{page}")
        assert browser.find_element(By.CSS_SELECTOR, "h1").text
        shot(browser, page)

    # Read-only: no action offered, and one posted anyway is refused.
    sign_in(browser, base, VIEWER)
    failed = json.loads(ok(cli, "jobs", "list", "--state", "failed", "--json"))["jobs"]
    job_id = failed[0]["id"]
    browser.get(f"{base}/ui/jobs/{job_id}")
    assert not browser.find_elements(By.CSS_SELECTOR, "form.action")
    assert text_of(browser, "viewer") == "viewer · read-only"
    browser.get(f"{base}/ui/jobs?state=failed")
    assert not browser.find_elements(By.ID, "bulk-retry")
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const form = new URLSearchParams({csrf: 'x'});"
        f"fetch('/ui/jobs/{job_id}/retry', {{method: 'POST', body: form}})"
        ".then(r => done(r.status));"
    )
    assert status == 403
    assert json.loads(ok(cli, "jobs", "show", str(job_id), "--json"))["state"] == "failed"
