"""The /_ftkit admin and fault endpoints: off unless an admin key (or `enable_faults` on an open
server) turns them on, and then only for that key; everyone else gets an unknown URL's 404."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from ftkit.backend import BackendSettings, running_backend
from ftkit.backend.testing import started_backend
from tests.backend.conftest import upload

KEY_A = "sk-tenant-alpha-0123456789"
KEY_B = "sk-tenant-bravo-9876543210"
ADMIN = "sk-admin-charlie-5555555555"

ADMIN_CALLS = [
    ("GET", "/_ftkit/stats", None),
    ("DELETE", "/_ftkit/stats", None),
    ("GET", "/_ftkit/faults", None),
    ("POST", "/_ftkit/faults", {"fail_job_at_step": 1}),
    ("DELETE", "/_ftkit/faults", None),
    ("GET", "/_ftkit/settings", None),
    ("POST", "/_ftkit/settings", {"queue_seconds": 3600}),
    ("PUT", "/_ftkit/stats", None),
    ("GET", "/_ftkit/no-such-thing", None),
]


def bearer(key: str | None) -> dict[str, str]:
    """The Authorization header for `key` (none for None)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def assert_unknown_url(root: str, key: str | None) -> None:
    """Every admin call answers exactly what an unknown URL answers."""
    for method, path, body in ADMIN_CALLS:
        response = httpx.request(method, root + path, json=body, headers=bearer(key))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["message"] == f"Invalid URL ({method} {path})"


def test_admin_endpoints_are_off_by_default(tmp_path: Path) -> None:
    """No admin key: 404 for every caller, tenants included, whatever the method."""
    settings = BackendSettings(data_dir=tmp_path / "data", api_keys=[KEY_A, KEY_B])
    with running_backend(settings) as url:
        root = url.removesuffix("/v1")
        for key in (KEY_A, KEY_B, None):
            assert_unknown_url(root, key)


def test_only_the_admin_key_reaches_them_and_tenants_cannot_touch_each_other(
    tmp_path: Path, train_file: Path
) -> None:
    """With an admin key: tenant B (or no key, or a wrong key) can neither read A's request
    paths nor set faults or delays (so A's job cannot be failed); the admin sees A's traffic."""
    settings = BackendSettings(data_dir=tmp_path / "data", api_keys=[KEY_A, KEY_B], admin_key=ADMIN)
    with (
        started_backend(settings) as backend,
        httpx.Client(base_url=backend.url, headers=bearer(KEY_A), timeout=30) as alpha,
    ):
        for key in (KEY_A, KEY_B, None, "sk-wrong-1234"):
            assert_unknown_url(backend.root, key)
        file = upload(alpha, train_file)
        job = alpha.post(
            "/fine_tuning/jobs", json={"model": "babbage-002", "training_file": file["id"]}
        ).json()
        assert alpha.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] != "failed"
        assert backend.faults() is None  # B's fail_job_at_step: not set
        assert backend.timing()["queue_seconds"] == 0
        paths = [r["path"] for r in backend.stats()["requests"]]
        assert f"/v1/fine_tuning/jobs/{job['id']}" in paths
        assert backend.set_faults(error_rate=1.0)["error_rate"] == 1.0


def test_enable_faults_opens_them_on_an_open_server_only(tmp_path: Path) -> None:
    """`enable_faults` without an admin key serves anyone on an open server; on a keyed server
    it is refused, and an admin key equal to a tenant key is refused."""
    with running_backend(BackendSettings(data_dir=tmp_path / "d", enable_faults=True)) as url:
        root = url.removesuffix("/v1")
        assert httpx.post(root + "/_ftkit/faults", json={"error_rate": 1.0}).status_code == 200
        assert httpx.get(url + "/models").status_code == 429
    with pytest.raises(ValidationError, match="needs an admin key"):
        BackendSettings(data_dir=tmp_path / "d", api_keys=[KEY_A], enable_faults=True)
    with pytest.raises(ValidationError, match="differ from every API key"):
        BackendSettings(data_dir=tmp_path / "d", api_keys=[KEY_A], admin_key=KEY_A)
