"""Cost estimate: billed tokens per epoch × epochs × price per 1K tokens."""

from __future__ import annotations

from ftkit.data.catalog import price_per_1k
from ftkit.data.models import CostEstimate

DEFAULT_N_EPOCHS = 4  # the providers' default when n_epochs is left to "auto"


def estimate_cost(
    model: str,
    billed_tokens: int | None,
    n_epochs: int | None,
    price_overrides: dict[str, float],
) -> CostEstimate:
    """The training cost of `billed_tokens` per epoch; no price is ever invented."""
    assumed = n_epochs is None
    epochs = DEFAULT_N_EPOCHS if n_epochs is None else n_epochs
    price, source = price_per_1k(model, price_overrides)
    notes = []
    if assumed:
        notes.append(
            f"n_epochs is auto: assumed the default of {DEFAULT_N_EPOCHS} (the provider may "
            "pick another number for very small or large datasets)"
        )
    if billed_tokens is None:
        notes.append("tokens were not counted, so there is no estimate")
        usd = None
    elif price is None:
        notes.append(
            f"no known training price for {model!r}; set data.prices_per_1k_tokens.{model} "
            "to get an estimate"
        )
        usd = None
    else:
        usd = round(billed_tokens * epochs * price / 1000, 6)
        notes.append(
            f"{billed_tokens:,} tokens × {epochs} epochs × ${price:g}/1K tokens, from the {source}"
        )
    return CostEstimate(
        model=model,
        n_epochs=epochs,
        n_epochs_assumed=assumed,
        price_per_1k_tokens=price,
        price_source=source,
        billed_tokens=billed_tokens,
        usd=usd,
        note="; ".join(notes) + ".",
    )
