"""A running backend with admin helpers, for tests and benchmarks (`tests/conftest.py`)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ftkit.backend.server import running_backend
from ftkit.backend.settings import BackendSettings


@dataclass
class BackendHandle:
    """A started backend: `.url` (base URL with /v1), `.settings`, `.data_dir`, admin helpers
    (which send the server's admin key; `.settings.admin_key` holds it).

    `.admin` is the handle itself, so `backend.admin.set_faults(...)` and
    `backend.set_faults(...)` are the same call.
    """

    url: str
    settings: BackendSettings
    http: httpx.Client = field(repr=False)

    @property
    def data_dir(self) -> Path:
        """The server's data directory."""
        return self.settings.data_dir

    @property
    def root(self) -> str:
        """The URL without `/v1` (where `/_ftkit` lives)."""
        return self.url.removesuffix("/v1")

    @property
    def admin(self) -> BackendHandle:
        """The admin helpers (this object)."""
        return self

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        """Replace the fault plan (FaultPlan fields as keywords)."""
        return self._call("POST", "/_ftkit/faults", json=plan)

    def faults(self) -> dict[str, Any] | None:
        """The current fault plan (None when none is set)."""
        plan: dict[str, Any] | None = self._call("GET", "/_ftkit/faults")
        return plan

    def clear_faults(self) -> None:
        """Remove the fault plan."""
        self._call("DELETE", "/_ftkit/faults")

    def stats(self) -> dict[str, Any]:
        """Requests seen: `requests` list, `counts` per "METHOD route", `total`, bytes."""
        return self._call("GET", "/_ftkit/stats")

    def reset_stats(self) -> None:
        """Forget the recorded requests."""
        self._call("DELETE", "/_ftkit/stats")

    def set_timing(self, **timing: float) -> dict[str, Any]:
        """Change step_seconds / queue_seconds / time_scale at run time."""
        return self._call("POST", "/_ftkit/settings", json=timing)

    def timing(self) -> dict[str, Any]:
        """The current simulated delays."""
        timing: dict[str, Any] = self._call("GET", "/_ftkit/settings")
        return timing

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, self.root + path, **kwargs)
        response.raise_for_status()
        return response.json()


@contextlib.contextmanager
def started_backend(settings: BackendSettings) -> Iterator[BackendHandle]:
    """Run a backend for the duration of the block and hand out its `BackendHandle`.

    Its admin endpoints answer `settings.admin_key`, or a fresh random one when none is set.
    """
    if settings.admin_key is None:
        settings = settings.model_copy(update={"admin_key": new_admin_key()})
    headers = {"Authorization": f"Bearer {settings.admin_key}"}
    with running_backend(settings) as url, httpx.Client(timeout=30, headers=headers) as http:
        yield BackendHandle(url=url, settings=settings, http=http)


def new_admin_key() -> str:
    """A random admin key (for a test's backend)."""
    return "sk-admin-" + secrets.token_urlsafe(24)
