"""Helpers for the client tests: a training file, clients on the embedded backend, admin calls."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftkit.api import Client, set_testing
from ftkit.config import ProviderConfig

LABELS = [" billing", " shipping", " account", " refund"]


@pytest.fixture(autouse=True)
def _no_retry_sleeps() -> Iterator[None]:
    """Retries happen, but without waiting."""
    set_testing(True)
    yield
    set_testing(False)


def write_training_file(path: Path, n: int = 24, salt: str = "") -> Path:
    """A small classification JSONL (prompt/completion) with `n` examples."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            label = LABELS[i % len(LABELS)]
            prompt = f"ticket {i}{salt}: a question about{label}\n\n###\n\n"
            out.write(json.dumps({"prompt": prompt, "completion": label + "\n"}) + "\n")
    return path


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    return write_training_file(tmp_path / "train.jsonl")


def make_client(backend: Any, dialect: str = "jobs", **provider: Any) -> Client:
    return Client(ProviderConfig(kind="local", dialect=dialect, **provider), base_url=backend.url)


def count(backend: Any, method: str, route: str) -> int:
    """How many requests the backend saw for METHOD and a route template (regex)."""
    counts = backend.stats()["counts"]
    return sum(n for key, n in counts.items() if re.fullmatch(f"{method} {route}", key))
