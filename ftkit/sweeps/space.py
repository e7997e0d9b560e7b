"""Search-space values of `sweep.parameters`: a list of choices or a named distribution.

    job.hyperparameters.n_epochs: [2, 4]                                   # choice
    job.hyperparameters.learning_rate_multiplier: {distribution: log_uniform, low: 0.02, high: 0.5}
    job.hyperparameters.batch_size: {distribution: int_uniform, low: 4, high: 32}

Sampled floats are rounded to 4 significant digits, so trial values stay readable in run names,
tags and the leaderboard (the rounded value is the one trained with).
"""

from __future__ import annotations

import math
import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DistributionName = Literal["choice", "uniform", "log_uniform", "int_uniform"]
SIGNIFICANT_DIGITS = 4


class Distribution(BaseModel):
    """One swept key's values: `choice` from `values`, or `uniform`/`log_uniform`/`int_uniform`
    between `low` and `high` (both included for int_uniform)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    distribution: DistributionName
    values: list[Any] | None = Field(None, description="choice only: the values to pick from.")
    low: float | None = None
    high: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_list_is_a_choice(cls, value: Any) -> Any:
        return {"distribution": "choice", "values": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _bounds(self) -> Distribution:
        if self.distribution == "choice":
            if not self.values or self.low is not None or self.high is not None:
                msg = "choice needs a non-empty `values` list (and no low/high)"
                raise ValueError(msg)
            return self
        if self.values is not None or self.low is None or self.high is None:
            msg = f"{self.distribution} needs `low` and `high` (and no values)"
            raise ValueError(msg)
        if not self.low < self.high:
            msg = f"{self.distribution} needs low < high, got low={self.low:g}, high={self.high:g}"
            raise ValueError(msg)
        if self.distribution == "log_uniform" and self.low <= 0:
            msg = f"log_uniform needs low > 0, got {self.low:g}"
            raise ValueError(msg)
        if self.distribution == "int_uniform" and not (
            float(self.low).is_integer() and float(self.high).is_integer()
        ):
            msg = "int_uniform needs whole-number low and high"
            raise ValueError(msg)
        return self

    @property
    def is_choice(self) -> bool:
        """Whether the values are listed (a grid can only enumerate listed values)."""
        return self.distribution == "choice"

    def sample(self, rng: random.Random) -> Any:
        """One value drawn with `rng`."""
        if self.values is not None:
            return rng.choice(self.values)
        low, high = float(self.low or 0), float(self.high or 0)
        if self.distribution == "int_uniform":
            return rng.randint(int(low), int(high))
        if self.distribution == "log_uniform":
            drawn = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            drawn = rng.uniform(low, high)
        return float(f"{drawn:.{SIGNIFICANT_DIGITS}g}")

    def describe(self) -> str:
        """How the values are written back to a person, e.g. `log_uniform(0.02, 0.5)`."""
        if self.values is not None:
            return "[" + ", ".join(str(v) for v in self.values) + "]"
        return f"{self.distribution}({self.low:g}, {self.high:g})"
