"""Predictions through the real embedded backend: a tiny classifier is trained once, then asked."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftkit.api.client import Client
from ftkit.config import ExperimentConfig
from ftkit.evaluate import read_predictions
from ftkit.evaluate.runner import resolve_baseline
from ftkit.report import build_report

WORDS = {
    " very good": ["great", "love", "excellent", "superb", "perfect"],
    " very bad": ["awful", "hate", "terrible", "broken", "worst"],
    " neutral": ["okay", "fine", "average", "normal", "usual"],
}


def write_dataset(path: Path, n: int = 300) -> None:
    """Three classes; two share their first token (' very'), so the mapping needs the second."""
    rng = random.Random(7)
    with path.open("w") as out:
        for i in range(n):
            label = list(WORDS)[i % 3]
            words = [rng.choice(WORDS[label]) for _ in range(2)] + [rng.choice(WORDS[" neutral"])]
            rng.shuffle(words)
            prompt = f"Review: {' '.join(words)} item {rng.randint(1, 999)}\n\n###\n\n"
            out.write(json.dumps({"prompt": prompt, "completion": label + "\n"}) + "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, train_run: Any) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("runner")
    write_dataset(tmp / "reviews.jsonl")
    config = ExperimentConfig.model_validate(
        {
            "name": "reviews",
            "data": {"source": str(tmp / "reviews.jsonl")},
            "job": {"model": "babbage-002", "seed": 7, "hyperparameters": {"n_epochs": 1}},
            "evaluate": {"batch_size": 8, "concurrency": 2},
            "runs_dir": str(tmp / "runs"),
        }
    )
    with train_run(tmp, config) as run:
        yield run


def test_every_example_is_answered_and_recorded(trained: Any) -> None:
    """predictions.jsonl has one row per test example, in order, with expected and raw text."""
    result = trained.evaluate()
    rows = read_predictions(trained.run_dir / "predictions.jsonl")
    test_lines = (trained.run_dir / "prepared" / "test.jsonl").read_text().splitlines()
    assert result.split == "test" and len(rows) == len(test_lines) == result.examples
    assert [row.line for row in rows] == list(range(1, len(rows) + 1))
    for row, line in zip(rows, test_lines, strict=True):
        assert row.expected == json.loads(line)["completion"].removesuffix("\n")
        assert row.probabilities is not None
        assert sum(row.probabilities.values()) == pytest.approx(1.0)
    assert result.max_tokens == 3 and result.stop == "\n"  # 2 tokens of ' very good' + stop
    assert result.metrics["accuracy"] > 0.8


def test_class_probabilities_follow_the_real_logprobs(trained: Any) -> None:
    """For real completions, P(class) is the product of its tokens' logprobs, renormalised."""
    trained.evaluate()
    rows = read_predictions(trained.run_dir / "predictions.jsonl")[:6]
    with Client(base_url=trained.backend.url, api_key="test") as client:
        choices = client.completions.create(
            trained.model, [r.prompt for r in rows], max_tokens=3, logprobs=5, stop="\n"
        )
    for row, choice in zip(rows, choices, strict=True):
        lp = choice.logprobs
        assert lp is not None and row.text == choice.text
        first = lp.top_logprobs[0] or {}
        scores: dict[str, float] = {}
        if lp.tokens[0] == " very":
            second = lp.top_logprobs[1] or {}
            for label, token in ((" very good", " good"), (" very bad", " bad")):
                scores[label] = math.exp(first[" very"] + second[token])
            scores[" neutral"] = math.exp(first[" neutral"])
        else:  # greedy ' neutral': the two ' very …' classes share P(' very')
            scores[" neutral"] = math.exp(first[" neutral"])
            scores[" very good"] = scores[" very bad"] = math.exp(first[" very"]) / 2
        total = sum(scores.values())
        assert row.probabilities == pytest.approx({k: v / total for k, v in scores.items()})


def test_batches_and_baseline_requests(trained: Any, tmp_path: Path) -> None:
    """Prompts go in batches of evaluate.batch_size, once for the model and once for the baseline."""
    result = trained.evaluate(batch_size=5)
    assert result.baseline_model == "babbage-002"
    baseline = read_predictions(trained.run_dir / "baseline_predictions.jsonl")
    assert [r.expected for r in baseline] == [
        r.expected for r in read_predictions(trained.run_dir / "predictions.jsonl")
    ]
    assert result.batch_size == 5
    report = build_report(trained.run_dir, trained.config)
    assert report.baseline is not None and report.comparison
    assert report.metrics["accuracy"] > report.baseline.metrics["accuracy"]


def test_transient_errors_are_retried_by_the_client(trained: Any) -> None:
    """Rate-limited completion requests are retried; the evaluation still answers everything."""
    trained.backend.reset_stats()
    trained.backend.set_faults(
        error_rate=1.0, error_status=429, retry_after_ms=5, path_pattern="/v1/completions", count=3
    )
    try:
        result = trained.evaluate(baseline=None)
    finally:
        trained.backend.clear_faults()
    statuses = [
        r["status"] for r in trained.backend.stats()["requests"] if "completions" in r["path"]
    ]
    assert statuses.count(429) == 3
    assert len(read_predictions(trained.run_dir / "predictions.jsonl")) == result.examples


def test_no_baseline_when_configured_off(trained: Any) -> None:
    """evaluate.baseline=null skips the baseline and removes a stale baseline file."""
    trained.evaluate()
    result = trained.evaluate(baseline=None)
    assert result.baseline_model is None and result.baseline_skipped == "evaluate.baseline is null"
    assert not (trained.run_dir / "baseline_predictions.jsonl").exists()


def test_baseline_choices(tmp_path: Path) -> None:
    """base → the job's model; champion → champion.json's model (unless it is this run's); a name."""
    config = ExperimentConfig.model_validate({"name": "x", "data": {"source": "d.jsonl"}})
    run_dir = tmp_path / "x" / "run2"
    assert resolve_baseline(config, run_dir, "ft:me") == ("babbage-002", None)
    config.evaluate.baseline = "champion"
    assert resolve_baseline(config, run_dir, "ft:me") == (
        None,
        "no champion yet for this experiment",
    )
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "champion.json").write_text('{"model": "ft:old"}')
    assert resolve_baseline(config, run_dir, "ft:me") == ("ft:old", None)
    assert resolve_baseline(config, run_dir, "ft:old")[0] is None
    config.evaluate.baseline = "davinci-002"
    assert resolve_baseline(config, run_dir, "ft:me") == ("davinci-002", None)
