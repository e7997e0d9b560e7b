"""One Prefect test API for the whole end-to-end session (it costs ~7 s to start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[str]:
    """A temporary Prefect server and database; yields its API URL (for subprocesses too)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=240):  # generous on a loaded machine
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def quickstart_args(tmp_path: Path, backend) -> list[str]:  # type: ignore[no-untyped-def]
    """`ftkit run` arguments: the quickstart config against the test backend, runs under tmp."""
    return [str(QUICKSTART), f"runs_dir={tmp_path / 'runs'}", f"provider.base_url={backend.url}"]
