"""The trainer behind the embedded backend: real learning with scikit-learn, honest metrics.

`train(request, hooks, out_dir)` fits a model on a fine-tune JSONL file and checkpoints it each
epoch; `load_model(path)` / `base_model(name)` give a `CompletionModel` whose `complete` and
`chat` answer the completions endpoints. See `trainer` for what each hyperparameter does.

The names are imported on first use, so the server process (which needs `transformer` and
`hyperparameters` at start) loads scikit-learn only once it trains or answers with a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ftkit.lazy import lazy_attributes

if TYPE_CHECKING:
    from ftkit.backend.sampling import Choice
    from ftkit.backend.training.examples import TrainingDataError, render_chat
    from ftkit.backend.training.hyperparameters import (
        ResolvedHyperparameters,
        resolve_hyperparameters,
    )
    from ftkit.backend.training.model import BASE_MODELS, CompletionModel, base_model
    from ftkit.backend.training.storage import load_model, save_model
    from ftkit.backend.training.trainer import (
        NoHooks,
        StepMetrics,
        TrainingHooks,
        TrainingOutcome,
        TrainingRequest,
        TrainingStopped,
        train,
    )

__all__ = [
    "BASE_MODELS",
    "Choice",
    "CompletionModel",
    "NoHooks",
    "ResolvedHyperparameters",
    "StepMetrics",
    "TrainingDataError",
    "TrainingHooks",
    "TrainingOutcome",
    "TrainingRequest",
    "TrainingStopped",
    "base_model",
    "load_model",
    "render_chat",
    "resolve_hyperparameters",
    "save_model",
    "train",
]

_HOMES = {
    "Choice": "ftkit.backend.sampling",
    "TrainingDataError": "ftkit.backend.training.examples",
    "render_chat": "ftkit.backend.training.examples",
    "ResolvedHyperparameters": "ftkit.backend.training.hyperparameters",
    "resolve_hyperparameters": "ftkit.backend.training.hyperparameters",
    "BASE_MODELS": "ftkit.backend.training.model",
    "CompletionModel": "ftkit.backend.training.model",
    "base_model": "ftkit.backend.training.model",
    "load_model": "ftkit.backend.training.storage",
    "save_model": "ftkit.backend.training.storage",
    "NoHooks": "ftkit.backend.training.trainer",
    "StepMetrics": "ftkit.backend.training.trainer",
    "TrainingHooks": "ftkit.backend.training.trainer",
    "TrainingOutcome": "ftkit.backend.training.trainer",
    "TrainingRequest": "ftkit.backend.training.trainer",
    "TrainingStopped": "ftkit.backend.training.trainer",
    "train": "ftkit.backend.training.trainer",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
