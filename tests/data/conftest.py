"""Fixture for the data-preparation tests: write a small file, prepare it, get the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ftkit.config import ChecksConfig, DataConfig, SplitConfig
from ftkit.data.models import DataValidationError, PreparedData
from ftkit.data.prepare import prepare_dataset

from .prep_helpers import jsonl

Prepare = Callable[..., PreparedData]


@pytest.fixture
def prepare(tmp_path: Path) -> Prepare:
    """prepare(content, name=..., fixes=..., ...) -> PreparedData, whether errors remain or not."""

    def run(
        content: bytes | list[Any],
        *,
        name: str = "data.jsonl",
        model: str = "babbage-002",
        fixes: list[str] | None = None,
        count_tokens: bool = True,
        split: SplitConfig | None = None,
        max_lines: int = 20,
        parallel: bool | None = None,
        **config: Any,
    ) -> PreparedData:
        source = tmp_path / name
        source.write_bytes(content if isinstance(content, bytes) else jsonl(content))
        data = DataConfig(
            source=source,
            checks=ChecksConfig(count_tokens=count_tokens, max_listed_lines=max_lines),
            split=split or SplitConfig(),
            **config,
        )
        try:
            return prepare_dataset(data, model, tmp_path / "out", fixes=fixes, parallel=parallel)
        except DataValidationError as exc:
            return exc.prepared

    return run
