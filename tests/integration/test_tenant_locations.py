"""A tenant location that is another database — the control database itself — is never
filled, adopted or dropped; deprovisioning such a project still converges."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.store import Store


def colliding(backend: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """Settings whose tenant location for the returned project id is the control database."""
    if backend.startswith("sqlite"):
        return {"tenants": {"database_url": f"sqlite://{tmp_path}"}}, "pjobs"
    name = urlsplit(backend).path.lstrip("/")  # pjobs_test_<hex>
    return {"tenants": {"name_prefix": name[0]}}, name[1:].replace("_", "-")


def test_a_project_whose_database_would_be_the_control_database(
    store: Store, make_settings: Any, backend: str, tmp_path: Path
) -> None:
    overrides, project_id = colliding(backend, tmp_path)
    app = App(make_settings(**overrides), store=store)
    control = urlsplit(backend).path.lstrip("/") if backend.startswith("postgresql") else None
    expected = control or str(tmp_path / "pjobs.db")
    assert app.integrations.tenants.location(project_id) == expected  # the trap is set
    payload = {"project_id": project_id, "name": "Trap", "owner_id": "o-1"}
    payload |= {"region": "eu-west-1", "plan": "free"}
    job = app.queue.run_inline("provision_project", payload)
    assert job.state == "failed" and job.result == {"exit_code": 65}
    assert "was not created by pjobs" in (job.last_error or "")
    with ControlPlane(store).tx(app.clock.now(), write=False) as tx:
        project = tx.projects.get(project_id)
        assert project is not None and project.status == "failed"
        before = len(tx.audit.list())

    gone = app.queue.run_inline("deprovision_project", {"project_id": project_id})
    assert gone.state == "succeeded", gone.last_error
    assert gone.result["steps"]["deprovision.drop_database"] == "skipped"
    with ControlPlane(store).tx(app.clock.now(), write=False) as tx:  # still there, whole
        assert tx.projects.get(project_id).status == "deprovisioned"  # type: ignore[union-attr]
        assert len(tx.audit.list()) > before
    assert "app_users" not in app.integrations.tenants.tables(project_id)  # no schema applied
    app.close()
