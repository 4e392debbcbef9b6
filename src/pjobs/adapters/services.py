"""The platform's auth, realtime and storage services, over HTTP.

Registration is `PUT {url}/projects/{id}` (idempotent by nature; 409 counts as already
registered) and removal `DELETE {url}/projects/{id}` (404 and 410 count as gone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pjobs.settings.secretfile import read_secret

if TYPE_CHECKING:
    import httpx

    from pjobs.settings.config import Settings
    from pjobs.settings.groups import ServiceSettings

SERVICES = ("auth", "realtime", "storage")


class ServiceError(Exception):
    """A service refused or could not be reached; the step is retried."""


class PlatformServices:
    def __init__(self, settings: Settings, http: Callable[[], httpx.Client]) -> None:
        self._settings = settings.services
        self._http = http  # asked for only when a request is really made

    def _service(self, name: str) -> ServiceSettings:
        service: ServiceSettings = getattr(self._settings, name)
        return service

    def configured(self, name: str) -> bool:
        return self._service(name).url is not None

    def url(self, name: str) -> str | None:
        return self._service(name).url

    def _call(self, name: str, method: str, project_id: str, body: Any, ok: set[int]) -> int:
        import httpx

        service = self._service(name)
        assert service.url is not None
        token = read_secret(service.token, service.token_file, f"the {name} service token")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{service.url.rstrip('/')}/projects/{project_id}"
        try:
            response = self._http().request(
                method, url, json=body, headers=headers, timeout=service.timeout
            )
        except httpx.HTTPError as exc:
            raise ServiceError(f"{name} service unreachable: {type(exc).__name__}") from None
        if response.status_code in ok or 200 <= response.status_code < 300:
            return response.status_code
        raise ServiceError(f"{name} service answered {method} with HTTP {response.status_code}")

    def register(self, name: str, project: dict[str, str]) -> dict[str, Any]:
        status = self._call(name, "PUT", project["project_id"], project, ok={409})
        return {"status": status, "url": self.url(name)}

    def unregister(self, name: str, project_id: str) -> dict[str, Any]:
        status = self._call(name, "DELETE", project_id, None, ok={404, 410})
        return {"status": status, "url": self.url(name)}
