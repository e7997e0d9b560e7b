"""A synthetic run folder, as the pipeline leaves it after training and evaluation."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from ftkit.config import ExperimentConfig
from ftkit.data.models import CostEstimate, PreparedData, SplitInfo, TokenStats
from ftkit.evaluate.predictions import Prediction, write_predictions
from ftkit.evaluate.runner import EvaluationResult
from ftkit.runs.atomic import write_json_atomic

CLASSES = [" negative", " positive"]
RESULTS_CSV = (
    "step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,"
    "training_token_accuracy,validation_loss,validation_sequence_accuracy,"
    "validation_token_accuracy,classification/accuracy,classification/precision,"
    "classification/recall,classification/auroc,classification/auprc,classification/f1.0\n"
    "1,100,4,0.9,0.25,0.5,0.95,0.25,0.5,,,,,,\n"
    "2,200,8,0.6,0.5,0.75,,,,0.7,0.75,0.6,0.8,0.78,0.667\n"
    "3,300,12,0.4,0.75,0.8,0.5,0.5,0.75,,,,,,\n"
    "4,400,16,0.3,1.0,1.0,,,,0.8,0.8,0.8,0.9,0.88,0.8\n"
)

MakeRun = Callable[..., tuple[Path, ExperimentConfig]]


def predictions(n: int, accuracy: float, seed: int) -> list[Prediction]:
    """n binary predictions, about `accuracy` right, with matching probabilities."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        expected = CLASSES[i % 2]
        right = rng.random() < accuracy
        predicted = expected if right else CLASSES[1 - i % 2]
        if i == 3:
            predicted = "<other>"
        confidence = rng.uniform(0.55, 0.99)
        p_pos = confidence if predicted == " positive" else 1 - confidence
        text = " maybe" if predicted == "<other>" else predicted
        rows.append(
            Prediction(
                index=i,
                line=i + 1,
                prompt=f"Review {i}: text\n\n###\n\n",
                expected=expected,
                predicted=predicted,
                text=text,
                finish_reason="stop",
                probabilities={" negative": 1 - p_pos, " positive": p_pos},
                class_mass=0.97,
            )
        )
    return rows


def write_split(path: Path, n: int, seed: int) -> None:
    """A prepared split whose words lean towards the label (70%), alternating labels."""
    rng = random.Random(seed)
    with path.open("w") as out:
        for i in range(n):
            label = CLASSES[i % 2]
            lean = ["good", "great"] if (label == " positive") == (rng.random() < 0.7) else ["bad"]
            prompt = f"Review {i}: {rng.choice(lean)} film\n\n###\n\n"
            out.write(orjson.dumps({"prompt": prompt, "completion": label + "\n"}).decode() + "\n")


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """Build runs/<experiment>/<run-id>/ with every file a report reads."""

    def make(
        run_id: str = "run1",
        *,
        n: int = 40,
        accuracy: float = 0.85,
        baseline: bool = True,
        gate: dict[str, object] | None = None,
        provider: str = "local",
    ) -> tuple[Path, ExperimentConfig]:
        config = ExperimentConfig.model_validate(
            {
                "name": "sentiment",
                "provider": {"kind": provider, "base_url": "https://api.example.test/v1"}
                if provider != "local"
                else {},
                "data": {"source": str(tmp_path / "data.jsonl")},
                "job": {"model": "babbage-002", "classification": {"betas": [0.5]}},
                "evaluate": {"gate": gate},
                "runs_dir": str(tmp_path / "runs"),
            }
        )
        run_dir = tmp_path / "runs" / "sentiment" / run_id
        (run_dir / "prepared").mkdir(parents=True)
        (run_dir / "results").mkdir()
        prepared = PreparedData(
            source=str(tmp_path / "data.jsonl"),
            out_dir=str(run_dir / "prepared"),
            model="babbage-002",
            format="prompt_completion",
            task_type="classification",
            lines=n * 10,
            examples=n * 10,
            splits={
                "train": SplitInfo(path="train.jsonl", examples=n * 9, sha256="0", tokens=9000),
                "test": SplitInfo(
                    path="test.jsonl",
                    examples=n,
                    sha256="1",
                    tokens=1000,
                    label_counts={c: n // 2 for c in CLASSES},
                ),
            },
            split_fractions={"train": 0.9, "test": 0.1},
            seed=1,
            stratified=True,
            classes=[c + "\n" for c in CLASSES],
            label_counts={c: n * 5 for c in CLASSES},
            prompt_separator="\n\n###\n\n",
            completion_stop="\n",
            max_completion_tokens=2,
            tokens=TokenStats(counted=True, encoding="cl100k_base", billed_per_epoch=9000),
            cost=CostEstimate(
                model="babbage-002",
                n_epochs=4,
                n_epochs_assumed=True,
                price_per_1k_tokens=0.0004,
                price_source="built-in",
                billed_tokens=36000,
                usd=0.0144,
                note="4 epochs assumed",
            ),
            written=True,
        )
        write_json_atomic(
            run_dir / "prepared" / "validation.json", prepared.model_dump(mode="json")
        )
        write_json_atomic(
            run_dir / "run.json", {"run_id": run_id, "experiment": "sentiment", "status": "running"}
        )
        write_json_atomic(
            run_dir / "job.json",
            {
                "id": "ftjob-1",
                "model": "babbage-002",
                "status": "succeeded",
                "fine_tuned_model": f"ft:babbage-002:ftkit::{run_id}",
                "trained_tokens": 35000,
                "hyperparameters": {"n_epochs": 4},
                "created_at": 100,
                "finished_at": 160,
            },
        )
        (run_dir / "results" / "file-1.csv").write_text(RESULTS_CSV)
        write_split(run_dir / "prepared" / "train.jsonl", n * 9, seed=3)
        write_split(run_dir / "prepared" / "test.jsonl", n, seed=4)
        write_predictions(predictions(n, accuracy, seed=1), run_dir / "predictions.jsonl")
        if baseline:
            write_predictions(predictions(n, 0.5, seed=2), run_dir / "baseline_predictions.jsonl")
        result = EvaluationResult(
            split="test",
            examples=n,
            task_type="classification",
            format="prompt_completion",
            model=f"ft:babbage-002:ftkit::{run_id}",
            baseline_model="babbage-002" if baseline else None,
            baseline_skipped=None if baseline else "evaluate.baseline is null",
            baseline_predictions_file="baseline_predictions.jsonl" if baseline else None,
            max_tokens=2,
            stop="\n",
            logprobs=5,
            batch_size=50,
            concurrency=8,
            seconds=0.1,
            predictions_per_s=400.0,
        )
        (run_dir / "evaluation.json").write_bytes(orjson.dumps(result.model_dump(mode="json")))
        (run_dir / "config.yaml").write_text(
            __import__("yaml").safe_dump(config.model_dump(mode="json"))
        )
        return run_dir, config

    return make
