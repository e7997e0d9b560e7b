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
