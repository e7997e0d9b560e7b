"""The dashboard tests: a real Prefect API (the test harness) and the quickstart against a backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A temporary Prefect server and database; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def quickstart_args(tmp_path: Path, backend) -> list[str]:  # type: ignore[no-untyped-def]
    """`ftkit run` arguments: the quickstart config against the test backend, runs under tmp."""
    return [str(QUICKSTART), f"runs_dir={tmp_path / 'runs'}", f"provider.base_url={backend.url}"]
