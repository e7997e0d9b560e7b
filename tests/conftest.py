"""Test-wide settings: Prefect stays offline and out of the user's home."""

from __future__ import annotations

import os
import tempfile

# Before anything imports prefect: no telemetry (the machine is offline) and a throwaway home,
# so tests never touch ~/.prefect.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="ftkit-test-prefect-"))
# ftkit's per-user data folder (the embedded backend's default state, the last runs folder)
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="ftkit-test-data-")


# --- the embedded backend (ftkit.backend) --------------------------------------------------------

import pytest


@pytest.fixture(autouse=True)
def _own_backend_dir(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Each test's in-process embedded backend (`ftkit run` with provider local) keeps its
    state under the test's tmp_path, in subprocesses too."""
    monkeypatch.setenv("FTKIT_BACKEND_DIR", str(tmp_path / ".ftkit" / "backend"))


@pytest.fixture
def backend(tmp_path):  # type: ignore[no-untyped-def]
    """A fresh embedded backend on a free loopback port with its own data dir (open, no key).

    Yields a `ftkit.backend.testing.BackendHandle`: `.url` (base URL ending in /v1),
    `.settings`, `.data_dir`, and admin helpers `set_faults(**plan)`, `clear_faults()`,
    `stats()`, `reset_stats()`, `set_timing(**kw)` (also reachable as `backend.admin.<helper>`).
    """
    from ftkit.backend.settings import BackendSettings
    from ftkit.backend.testing import started_backend

    with started_backend(BackendSettings(data_dir=tmp_path / "backend")) as handle:
        yield handle


@pytest.fixture(scope="session")
def prefect_api():  # type: ignore[no-untyped-def]
    """A temporary Prefect server and database for the session; yields its API URL (for
    subprocesses too). It costs ~7 s to start, so test folders that need it share one."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield str(PREFECT_API_URL.value())
