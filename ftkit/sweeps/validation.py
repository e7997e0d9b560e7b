"""Held-out metrics of a trial on the validation split, for ranking: the test split is left
for reporting the winner, never for choosing it."""

from __future__ import annotations

from pathlib import Path

from ftkit.config import ExperimentConfig
from ftkit.errors import ConfigError
from ftkit.evaluate.metrics import headline_metrics
from ftkit.evaluate.predictions import write_predictions
from ftkit.evaluate.runner import (
    CompletionsClient,
    load_examples,
    load_prepared,
    make_plan,
    predict,
)
from ftkit.runs.atomic import read_json, write_json_atomic
from ftkit.sweeps.leaderboard import VALIDATION_SCORES_FILE, ValidationScores

VALIDATION_PREDICTIONS_FILE = "validation_predictions.jsonl"


def has_scores(run_dir: Path, model: str) -> bool:
    """Whether validation_scores.json already holds this model's scores."""
    path = run_dir / VALIDATION_SCORES_FILE
    return path.is_file() and ValidationScores.model_validate(read_json(path)).model == model


async def score_validation(
    run_dir: Path, client: CompletionsClient, config: ExperimentConfig, model: str
) -> ValidationScores:
    """Answer the validation split with `model`; write validation_predictions.jsonl and
    validation_scores.json (the same metrics the report computes for the test split)."""
    prepared = load_prepared(run_dir)
    if not prepared.splits.get("validation") or prepared.splits["validation"].examples == 0:
        msg = (
            f"sweep.metric {config.sweep.metric!r} is scored on the validation split, but "
            f"{run_dir.name} has no validation examples; set data.split.validation > 0."
        )
        raise ConfigError(msg)
    examples = load_examples(run_dir, prepared, "validation")
    rows = await predict(client, model, examples, make_plan(prepared, config))
    write_predictions(rows, run_dir / VALIDATION_PREDICTIONS_FILE)
    scores = ValidationScores(
        model=model, examples=len(rows), metrics=headline_metrics(rows, prepared, config)
    )
    write_json_atomic(run_dir / VALIDATION_SCORES_FILE, scores.model_dump(mode="json"))
    return scores
