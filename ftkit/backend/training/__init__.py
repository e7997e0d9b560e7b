"""The trainer behind the embedded backend: real learning with scikit-learn, honest metrics.

`train(request, hooks, out_dir)` fits a model on a fine-tune JSONL file and checkpoints it each
epoch; `load_model(path)` / `base_model(name)` give a `CompletionModel` whose `complete` and
`chat` answer the completions endpoints. See `trainer` for what each hyperparameter does.
"""

from ftkit.backend.sampling import Choice
from ftkit.backend.training.examples import TrainingDataError, render_chat
from ftkit.backend.training.hyperparameters import ResolvedHyperparameters, resolve_hyperparameters
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
