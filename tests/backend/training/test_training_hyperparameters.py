"""The legacy API's "auto" hyperparameter rules."""

from __future__ import annotations

import pytest

from ftkit.backend.training import resolve_hyperparameters


@pytest.mark.parametrize(
    ("examples", "batch"), [(10, 1), (100, 1), (1000, 2), (2000, 4), (50_000, 100), (500_000, 256)]
)
def test_auto_batch_size_is_a_fifth_of_a_percent_capped(examples: int, batch: int) -> None:
    """Batch size ≈ 0.2% of the training examples, at least 1, at most 256."""
    assert batch == resolve_hyperparameters(examples).batch_size


@pytest.mark.parametrize(
    ("batch", "multiplier"), [(1, 0.05), (3, 0.05), (4, 0.1), (63, 0.1), (64, 0.2)]
)
def test_auto_learning_rate_multiplier_follows_batch_size(batch: int, multiplier: float) -> None:
    """0.05 / 0.1 / 0.2 by the final batch size, larger batches taking larger steps."""
    assert multiplier == resolve_hyperparameters(1000, batch_size=batch).learning_rate_multiplier


def test_defaults_and_explicit_values() -> None:
    """4 epochs and prompt_loss_weight 0.01 by default; explicit values are kept as given."""
    auto = resolve_hyperparameters(2000)
    assert (
        auto.n_epochs,
        auto.batch_size,
        auto.learning_rate_multiplier,
        auto.prompt_loss_weight,
    ) == (4, 4, 0.1, 0.01)
    given = resolve_hyperparameters(2000, 2, 8, 0.3, 0.0)
    assert (
        given.n_epochs,
        given.batch_size,
        given.learning_rate_multiplier,
        given.prompt_loss_weight,
    ) == (2, 8, 0.3, 0.0)
