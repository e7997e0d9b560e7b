"""The legacy fine-tunes API's hyperparameter defaults ("auto" rules), resolved once per job."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_N_EPOCHS = 4
DEFAULT_PROMPT_LOSS_WEIGHT = 0.01
MAX_AUTO_BATCH_SIZE = 256


class ResolvedHyperparameters(BaseModel):
    """Concrete hyperparameters of one training run (no "auto" left)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_epochs: int = Field(ge=1, le=50)
    batch_size: int = Field(ge=1)
    learning_rate_multiplier: float = Field(gt=0)
    prompt_loss_weight: float = Field(ge=0)


def auto_batch_size(n_train_examples: int) -> int:
    """About 0.2% of the training examples, at least 1 and at most 256."""
    return max(1, min(MAX_AUTO_BATCH_SIZE, round(0.002 * n_train_examples)))


def auto_learning_rate_multiplier(batch_size: int) -> float:
    """0.05, 0.1 or 0.2 by batch size: larger batches take larger steps.

    Batches under 4 get 0.05, 4…63 get 0.1 (the captured real job: batch 4 → 0.1), 64 and over
    get 0.2.
    """
    if batch_size < 4:
        return 0.05
    return 0.1 if batch_size < 64 else 0.2


def resolve_hyperparameters(
    n_train_examples: int,
    n_epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate_multiplier: float | None = None,
    prompt_loss_weight: float | None = None,
) -> ResolvedHyperparameters:
    """Fill every unset (None, i.e. "auto") hyperparameter with the legacy API's rule.

    n_epochs 4; batch size ≈ 0.2% of examples capped at 256; learning-rate multiplier from the
    final batch size; prompt_loss_weight 0.01.
    """
    batch = batch_size if batch_size is not None else auto_batch_size(n_train_examples)
    return ResolvedHyperparameters(
        n_epochs=n_epochs if n_epochs is not None else DEFAULT_N_EPOCHS,
        batch_size=batch,
        learning_rate_multiplier=(
            learning_rate_multiplier
            if learning_rate_multiplier is not None
            else auto_learning_rate_multiplier(batch)
        ),
        prompt_loss_weight=(
            prompt_loss_weight if prompt_loss_weight is not None else DEFAULT_PROMPT_LOSS_WEIGHT
        ),
    )
