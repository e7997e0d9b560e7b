"""Sweeps run on a slice of the quickstart data, so each trial trains in a few seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "configs" / "sweep.yaml"


@pytest.fixture(scope="session")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 100 support tickets: every class in every split."""
    path = tmp_path_factory.mktemp("data") / "tickets.jsonl"
    lines = (ROOT / "datasets" / "support_tickets.jsonl").read_text().splitlines()[:100]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def sweep_args(tmp_path: Path, backend, tickets: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """configs/sweep.yaml on the ticket slice against the test backend, runs under tmp."""
    return [
        str(SWEEP), f"runs_dir={tmp_path / 'runs'}", f"provider.base_url={backend.url}",
        f"data.source={tickets}",
    ]  # fmt: skip
