"""Chat-format classification and free-text generation, evaluated through the embedded backend."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from ftkit.config import ExperimentConfig
from ftkit.evaluate import EvaluationResult, read_predictions
from ftkit.report import build_report, render_markdown


def train_and_evaluate(
    train_run: Any, tmp: Path, source: Path, model: str
) -> tuple[Path, ExperimentConfig, EvaluationResult]:
    """Prepare `source`, fine-tune `model` for one epoch on the backend, evaluate the run."""
    config = ExperimentConfig.model_validate(
        {
            "name": "formats",
            "data": {"source": str(source)},
            "job": {"model": model, "seed": 7, "hyperparameters": {"n_epochs": 1}},
            "runs_dir": str(tmp / "runs"),
        }
    )
    with train_run(tmp, config) as run:
        return run.run_dir, config, run.evaluate()


def test_chat_classification_uses_chat_completions_and_its_logprobs(
    tmp_path: Path, train_run: Any
) -> None:
    """Chat data is answered through /v1/chat/completions; class probabilities come from its logprobs."""
    rng = random.Random(3)
    words = {"positive": ["great", "love", "superb"], "negative": ["awful", "hate", "broken"]}
    source = tmp_path / "chat.jsonl"
    with source.open("w") as out:
        for i in range(120):
            label = list(words)[i % 2]
            user = f"{rng.choice(words[label])} {rng.choice(words[label])} thing {i}"
            messages = [
                {"role": "system", "content": "Classify the sentiment."},
                {"role": "user", "content": user},
                {"role": "assistant", "content": label},
            ]
            out.write(json.dumps({"messages": messages}) + "\n")
    run_dir, config, result = train_and_evaluate(
        train_run, tmp_path, source, "gpt-4o-mini-2024-07-18"
    )
    assert result.format == "chat" and result.baseline_model == "gpt-4o-mini-2024-07-18"
    rows = read_predictions(run_dir / "predictions.jsonl")
    test_lines = (run_dir / "prepared" / "test.jsonl").read_text().splitlines()
    first = json.loads(test_lines[0])["messages"]
    assert (rows[0].prompt, rows[0].expected) == (first[1]["content"], first[2]["content"])
    assert all(row.probabilities and set(row.probabilities) == set(words) for row in rows)
    report = build_report(run_dir, config)
    assert report.metrics["accuracy"] > 0.9 and report.metrics["roc_auc"] > 0.9


def test_free_text_gets_text_metrics(tmp_path: Path, train_run: Any) -> None:
    """Generation data gets exact match, token F1 and lengths; no logprobs are asked for."""
    rng = random.Random(5)
    source = tmp_path / "gen.jsonl"
    with source.open("w") as out:
        for i in range(120):
            thing = rng.choice(["red apple", "blue sky", "green grass", "white snow"])
            size = rng.choice(["big", "small", "round"])
            prompt = f"Describe {thing} number {i}\n\n###\n\n"
            completion = f" The {thing} is {size} today {i}\n"
            out.write(json.dumps({"prompt": prompt, "completion": completion}) + "\n")
    run_dir, config, result = train_and_evaluate(train_run, tmp_path, source, "babbage-002")
    assert result.task_type == "conditional_generation" and result.logprobs is None
    rows = read_predictions(run_dir / "predictions.jsonl")
    assert all(row.probabilities is None and not row.predicted.endswith("\n") for row in rows)
    report = build_report(run_dir, config)
    assert report.evaluation is not None and report.evaluation.text is not None
    assert 0.4 < report.metrics["token_f1"] <= 1.0
    assert (
        report.baseline is not None
        and report.metrics["token_f1"] > report.baseline.metrics["token_f1"]
    )
    markdown = render_markdown(report)
    assert "## Answer lengths" in markdown and "| token_f1 |" in markdown
    assert "## Worst errors" in markdown
