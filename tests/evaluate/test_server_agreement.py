"""Client-side metrics agree with the server's classification/* columns on the same examples."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from ftkit.config import ExperimentConfig
from ftkit.report import build_report


def test_server_and_client_metrics_match_on_the_validation_split(
    tmp_path: Path, train_run: Any
) -> None:
    """A legacy job with classification metrics: evaluating the validation split reproduces them."""
    rng = random.Random(3)
    words = {" positive": ["great", "love", "superb"], " negative": ["awful", "hate", "broken"]}
    with (tmp_path / "reviews.jsonl").open("w") as out:
        for i in range(300):
            label = list(words)[i % 2]
            shown = label if rng.random() > 0.2 else list(words)[1 - i % 2]  # 20% label noise
            prompt = f"{rng.choice(words[shown])} {rng.choice(['fine', 'ok', 'so'])} {i}\n\n###\n\n"
            out.write(json.dumps({"prompt": prompt, "completion": label + "\n"}) + "\n")
    config = ExperimentConfig.model_validate(
        {
            "name": "agree",
            "provider": {"dialect": "legacy"},
            "data": {"source": str(tmp_path / "reviews.jsonl")},
            "job": {
                "model": "babbage-002",
                "seed": 3,
                "hyperparameters": {"n_epochs": 2},
                "classification": {
                    "compute_metrics": True,
                    "n_classes": 2,
                    "positive_class": " positive\n",
                    "betas": [0.5, 2],
                },
            },
            "evaluate": {"split": "validation", "baseline": None},
        }
    )
    with train_run(tmp_path, config) as run:
        run.evaluate()
    report = build_report(run.run_dir, config)
    compared = {row.column: row for row in report.server_comparison}
    assert set(compared) >= {
        "classification/accuracy",
        "classification/precision",
        "classification/recall",
        "classification/auroc",
        "classification/auprc",
        "classification/f1.0",
        "classification/f0.5",
        "classification/f2.0",
    }
    assert 0.5 < compared["classification/accuracy"].server < 1.0  # a non-trivial case
    for row in compared.values():
        assert row.client == pytest.approx(row.server, abs=1e-9), row.column
