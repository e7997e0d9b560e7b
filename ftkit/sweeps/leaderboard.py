"""The leaderboard of a sweep: one row per trial, read from the trial's run folder, ranked on
the validation split.

Ranking: trials that succeeded and have the ranking metric are ranked by it (`goal`); ties
(equal to 12 significant digits) go to the trial that trained fewer tokens (the cheaper one),
then to the earlier trial in sweep order (grid order or draw order; never finishing order).
Trials that failed, are still running, or lack the metric get no rank and come last.

The ranking metric comes from the validation split only: a results-file metric
(`valid_loss`, `valid_accuracy`, `full_valid_*`, `classification/*`) from run.json, or a
held-out metric (`f1_macro`, `accuracy`, ...) from validation_scores.json, the fine-tuned
model's answers on the validation split. The test split is only reported (`heldout`), never
used for choosing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ftkit.report.model import Report, read_report
from ftkit.runs.atomic import read_json
from ftkit.runs.state import RunState, now_iso
from ftkit.sweeps.search import SweepPlan

VALIDATION_SCORES_FILE = "validation_scores.json"
RESULTS_METRIC_PREFIXES = ("valid_", "full_valid_", "classification/")
HEADLINE = ("accuracy", "f1_macro", "log_loss", "exact_match", "token_f1")
TIE_BREAK = (
    "equal metric values (12 significant digits) go to fewer trained tokens, then to the "
    "earlier trial in sweep order"
)


def from_results_file(metric: str) -> bool:
    """Whether the metric is one the job's results file reports for the validation split."""
    return metric.startswith(RESULTS_METRIC_PREFIXES)


class ValidationScores(BaseModel):
    """validation_scores.json: a trial's held-out metrics on the validation split."""

    split: Literal["validation"] = "validation"
    model: str
    examples: int
    metrics: dict[str, float]


class TrialRow(BaseModel):
    """One trial on the leaderboard."""

    rank: int | None = Field(None, description="1 = best; None = not ranked (see status).")
    number: int = Field(description="Position in the sweep (grid or draw order).")
    run_id: str
    values: dict[str, Any] = Field(description="The swept values (dotted keys).")
    status: str
    metric: float | None = Field(None, description="The ranking metric, validation split.")
    heldout_split: str | None = Field(None, description="The split of the held-out metrics.")
    heldout: dict[str, float] = Field(default_factory=dict)
    trained_tokens: int | None = None
    cost_usd: float | None = None
    cost_kind: Literal["trained", "estimated"] | None = None
    report: str | None = Field(None, description="report.html, relative to the runs directory.")
    error: str | None = None


class Leaderboard(BaseModel):
    """leaderboard.json of a sweep."""

    experiment: str
    sweep_id: str
    method: str
    metric: str
    goal: Literal["minimize", "maximize"]
    tie_break: str = TIE_BREAK
    swept_keys: list[str]
    rows: list[TrialRow]
    best_run_id: str | None = None
    best_report: str | None = None
    spent_usd: float = Field(0.0, description="Cost of the trials that finished.")
    generated_at: str = Field(default_factory=now_iso)

    @property
    def best(self) -> TrialRow | None:
        """The rank-1 trial, if any trial is ranked."""
        return next((row for row in self.rows if row.rank == 1), None)


def build_leaderboard(plan: SweepPlan, runs_dir: Path) -> Leaderboard:
    """Read every trial's run folder and rank the trials (nothing is written)."""
    rows = [
        _row(plan, trial.number, trial.run_id, trial.overrides, runs_dir) for trial in plan.trials
    ]
    ranked = rank(rows, plan.goal)
    best = next((row for row in ranked if row.rank == 1), None)
    spent = sum(row.cost_usd or 0.0 for row in ranked if row.status in ("succeeded", "failed"))
    return Leaderboard(
        experiment=plan.experiment,
        sweep_id=plan.sweep_id,
        method=plan.method,
        metric=plan.metric,
        goal=plan.goal,
        swept_keys=plan.swept_keys,
        rows=ranked,
        best_run_id=best.run_id if best else None,
        best_report=best.report if best else None,
        spent_usd=round(spent, 6),
    )


def rank(rows: list[TrialRow], goal: Literal["minimize", "maximize"]) -> list[TrialRow]:
    """Rows in rank order with `rank` set; unranked rows after, in sweep order."""
    sign = 1.0 if goal == "minimize" else -1.0

    def order(row: TrialRow) -> tuple[float, float, int]:
        assert row.metric is not None
        tokens = float("inf") if row.trained_tokens is None else float(row.trained_tokens)
        return sign * float(f"{row.metric:.12g}"), tokens, row.number

    rankable = sorted(
        (r for r in rows if r.status == "succeeded" and r.metric is not None), key=order
    )
    rest = sorted((r for r in rows if r not in rankable), key=lambda r: r.number)
    ranked = [row.model_copy(update={"rank": i}) for i, row in enumerate(rankable, start=1)]
    return ranked + [row.model_copy(update={"rank": None}) for row in rest]


def _row(
    plan: SweepPlan, number: int, run_id: str, values: dict[str, Any], runs_dir: Path
) -> TrialRow:
    folder = runs_dir / plan.experiment / run_id
    row = TrialRow(number=number, run_id=run_id, values=values, status="pending")
    if not (folder / "run.json").is_file():
        return row
    state = RunState.model_validate(read_json(folder / "run.json"))
    row.status = state.status
    if state.error is not None:
        row.error = (
            f"{state.error.code}: {state.error.message}"
            if state.error.code
            else state.error.message
        )
    row.metric = _ranking_value(plan.metric, state, folder)
    report = read_report(folder / "report.json") if (folder / "report.json").is_file() else None
    if report is not None:
        _add_report(row, report, folder, runs_dir)
    return row


def _ranking_value(metric: str, state: RunState, folder: Path) -> float | None:
    if from_results_file(metric):
        return state.metrics.get(metric)
    path = folder / VALIDATION_SCORES_FILE
    if not path.is_file():
        return None
    scores = ValidationScores.model_validate(read_json(path))
    if scores.model != state.fine_tuned_model:
        return None  # scored an earlier model: stale
    return scores.metrics.get(metric)


def _add_report(row: TrialRow, report: Report, folder: Path, runs_dir: Path) -> None:
    row.heldout_split = report.split
    row.heldout = dict(report.metrics)
    if report.job is not None:
        row.trained_tokens = report.job.trained_tokens
    if report.cost is not None:
        if report.cost.trained_usd is not None:
            row.cost_usd, row.cost_kind = report.cost.trained_usd, "trained"
        elif report.cost.estimated_usd is not None:
            row.cost_usd, row.cost_kind = report.cost.estimated_usd, "estimated"
    if (folder / "report.html").is_file():
        row.report = str((folder / "report.html").relative_to(runs_dir))
