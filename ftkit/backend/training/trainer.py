"""train(): read the data, pick the model for it, run minibatch steps, report honest metrics.

Which model learns and how: a base model that is a real language model (see `transformer`) gets
the transformer learner; any other gets a classifier or the retrieval model (see `learners`).

Hyperparameters: `n_epochs` passes over the training examples, shuffled each epoch by `seed`;
one optimizer step per `batch_size` examples (the last batch of an epoch may be smaller);
`learning_rate_multiplier` scales the step size (classifier base rate 20, retrieval β base rate
100; see `learners`, `retrieval`); `prompt_loss_weight` is the weight of a prompt
token wherever prompt tokens count: in every reported loss, in what the prompt-token model learns
(each prompt token adds `prompt_loss_weight` to its count, so at 0 the model learns nothing about
prompts and scores them uniformly, e.g. under `echo`), and in the retrieval model's background.

Metrics per step, all computed before the model learns from the step's batch: training loss,
sequence accuracy and token accuracy on the batch; every `interval` steps (an eighth of an
epoch, at least 1) the same on the next validation batch of `batch_size` examples; at each
epoch end, full_valid_loss / full_valid_token_accuracy on the whole validation set and, with
compute_classification_metrics, the `classification/*` values, then a checkpoint. Every
`interval` steps and at each epoch end the learner may save a resume state; a restarted job
replays the data order up to that step and trains on from there, telling `hooks.on_resume` (the
fast learners keep none and re-run from the start, which takes seconds).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ftkit.backend.training.examples import (
    MIN_EXAMPLES,
    Dataset,
    TrainingDataError,
    read_dataset,
)
from ftkit.backend.training.hyperparameters import ResolvedHyperparameters
from ftkit.backend.training.learners import Learner, SplitView, prepare_fast
from ftkit.backend.training.metrics import classification_metrics
from ftkit.backend.training.transformer import is_lm_model

VALIDATIONS_PER_EPOCH = 8
RESUME_DIR = "resume"  # under a job's folder: the state a restarted job trains on from


class TrainingStopped(Exception):
    """hooks.should_stop() asked training to stop (job cancelled or paused)."""


class TrainingRequest(BaseModel):
    """Everything one training run needs."""

    model_config = ConfigDict(extra="forbid")

    train_path: Path
    validation_path: Path | None = None
    base_model: str
    parent_model_path: Path | None = None
    hyperparameters: ResolvedHyperparameters
    seed: int = 0
    compute_classification_metrics: bool = False
    classification_n_classes: int | None = None
    classification_positive_class: str | None = None
    classification_betas: list[float] | None = None
    metadata: dict[str, str] | None = None


@dataclass(slots=True)
class StepMetrics:
    """One training step's row: legacy result columns and jobs-dialect metrics in one place.

    A plain dataclass: one is built per step, and pydantic's construction cost ~60 µs each.
    """

    step: int
    epoch: int
    elapsed_tokens: int
    elapsed_examples: int
    train_loss: float
    train_sequence_accuracy: float
    train_token_accuracy: float
    valid_loss: float | None = None
    valid_sequence_accuracy: float | None = None
    valid_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_token_accuracy: float | None = None
    classification: dict[str, float] | None = None


class TrainingOutcome(BaseModel):
    """The trained model's file and the run's totals."""

    model_path: Path
    total_steps: int
    trained_tokens: int
    final: StepMetrics
    kind: str = Field(description='"classifier", "retrieval" or "transformer"')
    seconds: float


class TrainingHooks(Protocol):
    """Callbacks the caller (the server's worker) passes to train()."""

    def on_step(self, metrics: StepMetrics, total_steps: int) -> None: ...

    def on_epoch_end(self, epoch: int, checkpoint_path: Path, metrics: StepMetrics) -> None: ...

    def on_resume(self, step: int, total_steps: int) -> None: ...

    def should_stop(self) -> bool: ...


class NoHooks:
    """Hooks that do nothing and never stop."""

    def on_step(self, metrics: StepMetrics, total_steps: int) -> None:
        """Ignore the step."""

    def on_epoch_end(self, epoch: int, checkpoint_path: Path, metrics: StepMetrics) -> None:
        """Ignore the checkpoint."""

    def on_resume(self, step: int, total_steps: int) -> None:
        """Ignore the resumption."""

    def should_stop(self) -> bool:
        """Never stop."""
        return False


def train(
    request: TrainingRequest, hooks: TrainingHooks | None = None, out_dir: Path = Path(".")
) -> TrainingOutcome:
    """Train a model on the request's data; checkpoint each epoch into `out_dir`.

    Raises TrainingDataError for unusable files (`invalid_n_examples` under 10 examples,
    `invalid_training_file` / `invalid_validation_file` naming the bad line) and TrainingStopped
    when hooks.should_stop() turns true (polled before every step).
    """
    started = time.perf_counter()
    hooks = hooks or NoHooks()
    hp = request.hyperparameters
    train_data = read_dataset(request.train_path, min_examples=MIN_EXAMPLES)
    valid_data = (
        read_dataset(request.validation_path, param="validation_file")
        if request.validation_path
        else None
    )
    learner, train_split, valid_split = _prepare(request, train_data, valid_data, out_dir)
    positive = _positive_class(request, train_split, valid_split)

    n = len(train_split)
    steps_per_epoch = -(-n // hp.batch_size)
    total_steps = steps_per_epoch * hp.n_epochs
    interval = max(1, steps_per_epoch // VALIDATIONS_PER_EPOCH)
    if learner.resumed_step:
        hooks.on_resume(learner.resumed_step, total_steps)
    rng = np.random.default_rng(request.seed)
    valid_batches = _cycle(rng, len(valid_split), hp.batch_size) if valid_split else None
    step, elapsed_tokens, elapsed_examples = 0, 0, 0
    metrics: StepMetrics | None = None
    for epoch in range(1, hp.n_epochs + 1):
        order = rng.permutation(n)
        for start in range(0, n, hp.batch_size):
            rows = order[start : start + hp.batch_size]
            step += 1
            elapsed_tokens += int(train_split.n_tokens[rows].sum())
            elapsed_examples += len(rows)
            epoch_end = start + hp.batch_size >= n
            if step <= learner.resumed_step:  # done before a restart: replay the data order only
                if valid_batches is not None and step % interval == 0:
                    next(valid_batches)
                continue
            if hooks.should_stop():
                raise TrainingStopped(f"training stopped before step {step}/{total_steps}")
            score = learner.step(rows)
            values: dict[str, Any] = {
                "train_loss": score.loss,
                "train_sequence_accuracy": score.sequence_accuracy,
                "train_token_accuracy": score.token_accuracy,
            }
            if valid_split is not None and valid_batches is not None and step % interval == 0:
                valid = learner.evaluate(valid_split, next(valid_batches))
                values |= {
                    "valid_loss": valid.loss,
                    "valid_sequence_accuracy": valid.sequence_accuracy,
                    "valid_token_accuracy": valid.token_accuracy,
                }
            if epoch_end and valid_split is not None:
                values |= _full_validation(request, learner, valid_split, positive)
            metrics = StepMetrics(
                step=step,
                epoch=epoch,
                elapsed_tokens=elapsed_tokens,
                elapsed_examples=elapsed_examples,
                **values,
            )
            hooks.on_step(metrics, total_steps)
            if epoch_end:
                checkpoint = learner.save(out_dir / f"checkpoint-epoch-{epoch}")
                hooks.on_epoch_end(epoch, checkpoint, metrics)
            if (epoch_end or step % interval == 0) and step < total_steps:
                learner.save_state(step, epoch_end)
    assert metrics is not None  # the last step always runs: no resume state is saved at it
    model_path = learner.save(out_dir / "model")
    return TrainingOutcome(
        model_path=model_path,
        total_steps=total_steps,
        trained_tokens=elapsed_tokens,
        final=metrics,
        kind=learner.kind,
        seconds=time.perf_counter() - started,
    )


def _prepare(
    request: TrainingRequest, train_data: Dataset, valid_data: Dataset | None, out_dir: Path
) -> tuple[Learner, SplitView, SplitView | None]:
    """The learner for the request's base model, with its view of the two splits."""
    if is_lm_model(request.base_model):
        from ftkit.backend.training.transformer.learner import prepare_transformer

        return prepare_transformer(
            base_model=request.base_model,
            train_data=train_data,
            valid_data=valid_data,
            hyperparameters=request.hyperparameters,
            seed=request.seed,
            metadata=request.metadata,
            parent=request.parent_model_path,
            state_dir=out_dir / RESUME_DIR,
        )
    return prepare_fast(request, train_data, valid_data)


def _cycle(rng: np.random.Generator, size: int, batch_size: int) -> Iterator[np.ndarray]:
    """Validation batches: a seeded order of the validation rows, walked round and round."""
    order = rng.permutation(size)
    cursor = 0
    while True:
        yield np.take(order, range(cursor, cursor + batch_size), mode="wrap")
        cursor = (cursor + batch_size) % size


def _full_validation(
    request: TrainingRequest, learner: Learner, split: SplitView, positive: str | None
) -> dict[str, Any]:
    """Epoch-end metrics on the whole validation set (and classification/* when asked for)."""
    full = learner.evaluate(split, np.arange(len(split)))
    values: dict[str, Any] = {
        "full_valid_loss": full.loss,
        "full_valid_token_accuracy": full.token_accuracy,
    }
    probabilities = (
        learner.class_probabilities(split) if request.compute_classification_metrics else None
    )
    if probabilities is not None:
        labels, probs = probabilities
        betas = request.classification_betas or []
        values["classification"] = classification_metrics(
            labels, probs, split.completions, positive, betas
        )
    return values


def _positive_class(
    request: TrainingRequest, train_split: SplitView, valid_split: SplitView | None
) -> str | None:
    """The positive label for binary metrics, matched exactly or ignoring surrounding spaces."""
    wanted = request.classification_positive_class
    if not request.compute_classification_metrics or wanted is None:
        return None
    if request.classification_n_classes not in (None, 2):
        return None
    labels = set(train_split.completions) | set(valid_split.completions if valid_split else [])
    if wanted in labels:
        return wanted
    matches = [label for label in labels if label.strip() == wanted.strip()]
    if len(matches) == 1:
        return matches[0]
    message = (
        f"classification_positive_class {wanted!r} is not a completion of the training or "
        f"validation file; use one of: {', '.join(sorted(map(repr, labels))[:10])}"
    )
    raise TrainingDataError(
        "invalid_classification_positive_class", message, "classification_positive_class"
    )
