"""Fixtures for the trainer tests: requests built from row lists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from training_fixtures import write_jsonl

from ftkit.backend.training import (
    ResolvedHyperparameters,
    TrainingRequest,
    resolve_hyperparameters,
)


@pytest.fixture
def make_request(tmp_path: Path) -> Callable[..., TrainingRequest]:
    """Build a TrainingRequest from row lists, with hyperparameters resolved as the API does."""

    def build(
        train: list[dict],
        valid: list[dict] | None = None,
        *,
        hyperparameters: ResolvedHyperparameters | None = None,
        base_model: str = "babbage-002",
        **options: object,
    ) -> TrainingRequest:
        folder = tmp_path / f"data-{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        return TrainingRequest(
            train_path=write_jsonl(folder / "train.jsonl", train),
            validation_path=write_jsonl(folder / "valid.jsonl", valid) if valid else None,
            base_model=base_model,
            hyperparameters=hyperparameters or resolve_hyperparameters(len(train)),
            **options,
        )

    return build
