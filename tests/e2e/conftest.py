"""One Prefect test API for the whole end-to-end session (it costs ~7 s to start)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"


@pytest.fixture(scope="session", autouse=True)
def _every_test_uses_the_prefect_api(prefect_api: str) -> str:
    return prefect_api


@pytest.fixture
def quickstart_args(tmp_path: Path, backend) -> list[str]:  # type: ignore[no-untyped-def]
    """`ftkit run` arguments: the quickstart config against the test backend, runs under tmp."""
    return [str(QUICKSTART), f"runs_dir={tmp_path / 'runs'}", f"provider.base_url={backend.url}"]
