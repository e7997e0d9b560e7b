"""What a sweep costs before it starts: each trial's estimate (billed tokens × epochs × price,
as `prepare` estimates one run), with trials that already finished counted at what they cost.

Tokens are counted once per distinct data section and base model, in a temporary folder: the
estimate uploads nothing, creates no job and writes no run folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from ftkit.config import ExperimentConfig
from ftkit.data.cost import estimate_cost
from ftkit.data.prepare import prepare_dataset
from ftkit.errors import ConfigError
from ftkit.report.model import read_report
from ftkit.runs.atomic import canonical_json, read_json
from ftkit.runs.key import run_id
from ftkit.sweeps.search import Trial, run_keys

FINISHED = ("succeeded", "failed", "cancelled")


class OverBudgetError(ConfigError):
    """The sweep's cost estimate is above `sweep.budget_usd` (exit 2; nothing was started)."""


class TrialCost(BaseModel):
    """One trial's share: spent (finished) or still to spend (estimated)."""

    number: int
    run_id: str
    usd: float | None = Field(description="None when no price is known for the model.")
    spent: bool = Field(description="The trial finished: its trained cost (or its estimate).")


class SweepCost(BaseModel):
    """The summed cost of a sweep, split into spent and still to spend."""

    trials: list[TrialCost]
    spent_usd: float
    to_spend_usd: float
    total_usd: float
    unpriced: int = Field(description="Trials without a known price (not in the sum).")
    budget_usd: float | None

    def summary(self) -> str:
        """One line for the terminal, printed before anything starts."""
        text = (
            f"cost estimate ${self.total_usd:.4f} for {len(self.trials)} trials "
            f"(spent ${self.spent_usd:.4f}, to spend ${self.to_spend_usd:.4f})"
        )
        if self.unpriced:
            have = "trial has" if self.unpriced == 1 else "trials have"
            text += f"; {self.unpriced} {have} no known price (not in the sum)"
        if self.budget_usd is not None:
            text += f"; budget ${self.budget_usd:.4f}"
        return text


def sweep_cost(config: ExperimentConfig, trials: list[Trial]) -> SweepCost:
    """Every trial's cost: finished trials from their run folders, the rest estimated."""
    tokens: dict[bytes, int | None] = {}
    costs = []
    for trial, key in zip(trials, run_keys(trials), strict=True):
        folder = trial.config.runs_dir.resolve() / trial.config.name / run_id(key)
        spent = _finished_cost(folder)
        if spent is not None:
            costs.append(TrialCost(number=trial.number, run_id=run_id(key), usd=spent, spent=True))
            continue
        usd = _estimate(trial.config, tokens)
        costs.append(TrialCost(number=trial.number, run_id=run_id(key), usd=usd, spent=False))
    spent_usd = sum(c.usd or 0.0 for c in costs if c.spent)
    to_spend = sum(c.usd or 0.0 for c in costs if not c.spent)
    return SweepCost(
        trials=costs,
        spent_usd=round(spent_usd, 6),
        to_spend_usd=round(to_spend, 6),
        total_usd=round(spent_usd + to_spend, 6),
        unpriced=sum(1 for c in costs if c.usd is None),
        budget_usd=config.sweep.budget_usd,
    )


def check_budget(cost: SweepCost, *, over_budget: bool) -> None:
    """Raise OverBudgetError when the total is above the budget and something is left to
    spend, unless allowed."""
    if cost.budget_usd is None or over_budget or cost.total_usd <= cost.budget_usd:
        return
    if cost.to_spend_usd == 0:
        return  # every trial finished: re-running only ranks them again
    msg = (
        f"the sweep's cost estimate ${cost.total_usd:.4f} is above sweep.budget_usd "
        f"${cost.budget_usd:.4f}; nothing was started. Raise the budget, run fewer trials, "
        "or pass --over-budget."
    )
    raise OverBudgetError(msg)


def _finished_cost(folder: Path) -> float | None:
    if not (folder / "run.json").is_file():
        return None
    if read_json(folder / "run.json").get("status") not in FINISHED:
        return None
    report = folder / "report.json"
    cost = read_report(report).cost if report.is_file() else None
    if cost is None:
        return 0.0  # ended before a report: nothing trained that we know of
    return cost.trained_usd if cost.trained_usd is not None else cost.estimated_usd or 0.0


def _estimate(config: ExperimentConfig, tokens: dict[bytes, int | None]) -> float | None:
    data = config.data.model_dump(mode="json", exclude={"prices_per_1k_tokens"})
    key = canonical_json({"data": data, "model": config.job.model})
    if key not in tokens:
        with tempfile.TemporaryDirectory(prefix="ftkit-estimate-") as scratch:
            prepared = prepare_dataset(config.data, config.job.model, Path(scratch))
        tokens[key] = prepared.cost.billed_tokens
    estimate = estimate_cost(
        config.job.model,
        tokens[key],
        config.job.hyperparameters.n_epochs,
        config.data.prices_per_1k_tokens,
    )
    return estimate.usd
