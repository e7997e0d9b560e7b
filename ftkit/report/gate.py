"""The quality gate and the experiment's champion (runs/<experiment>/champion.json).

A run passes when its gate metric is present, reaches `min` (for losses and error rates —
log_loss, brier, invalid_rate, empty_rate — `min` is a ceiling: the value must be at most it) and,
with `beat_champion`, is strictly better than the current champion's value of the same metric.
No champion yet, or a champion without that metric, passes the comparison. A passing run becomes
the champion; without a gate in the config no run is promoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from ftkit.config import GateConfig
from ftkit.evaluate.metrics import LOWER_IS_BETTER, is_better
from ftkit.evaluate.runner import CHAMPION_FILE
from ftkit.report.model import GateResult, Report
from ftkit.runs.atomic import write_json_atomic
from ftkit.runs.file_lock import locked_file
from ftkit.runs.state import now_iso


class Champion(BaseModel):
    """champion.json: the experiment's best run so far, by the gate metric."""

    experiment: str
    run_id: str
    model: str
    metric: str
    value: float
    metrics: dict[str, float]
    promoted_at: str = Field(default_factory=now_iso)
    previous_run_id: str | None = None
    previous_value: float | None = None


def read_champion(experiment_dir: Path) -> Champion | None:
    """The current champion, or None."""
    path = experiment_dir / CHAMPION_FILE
    if not path.is_file():
        return None
    return Champion.model_validate_json(path.read_bytes())


def decide_gate(
    gate: GateConfig | None,
    metrics: Mapping[str, float],
    champion: Champion | None,
    run_id: str,
) -> GateResult:
    """Pass or fail, with every reason; changes nothing on disk."""
    if gate is None:
        return GateResult(configured=False, reasons=["no gate configured (evaluate.gate)"])
    result = GateResult(
        configured=True, metric=gate.metric, min=gate.min, beat_champion=gate.beat_champion
    )
    value = metrics.get(gate.metric)
    if value is None:
        known = ", ".join(sorted(metrics)) or "none: the run has no evaluation"
        result.reasons.append(f"metric {gate.metric!r} is not in the report (available: {known})")
        return result
    result.value = value
    failures: list[str] = []
    lower = gate.metric in LOWER_IS_BETTER
    if gate.min is not None:
        reached = value <= gate.min if lower else value >= gate.min
        word = "at most" if lower else "at least"
        line = f"{gate.metric} = {value:.4f}, needs {word} {gate.min:g}"
        (result.reasons if reached else failures).append(line)
    if gate.beat_champion:
        if champion is None:
            result.reasons.append("no champion yet")
        elif champion.run_id == run_id:
            result.champion_run, result.champion_value = champion.run_id, champion.value
            result.reasons.append("this run is the champion")
        else:
            result.champion_run = champion.run_id
            theirs = champion.metrics.get(gate.metric)
            result.champion_value = theirs
            if theirs is None:
                result.reasons.append(f"champion {champion.run_id} has no {gate.metric}")
            else:
                line = f"{gate.metric} {value:.4f} vs champion {champion.run_id} {theirs:.4f}"
                (result.reasons if is_better(gate.metric, value, theirs) else failures).append(line)
    result.passed = not failures
    result.reasons = failures + result.reasons if failures else result.reasons
    return result


def apply_gate(report: Report, experiment_dir: Path) -> GateResult:
    """Decide the gate against the current champion and promote the run when it passes.

    Runs under a lock, so parallel trials cannot both overwrite the champion. Records the
    result on `report.gate` (write the report afterwards) and returns it.
    """
    gate_config = (report.config.get("evaluate") or {}).get("gate")
    gate = GateConfig.model_validate(gate_config) if gate_config else None
    model = report.evaluation.model if report.evaluation else None
    with locked_file(experiment_dir / ".champion.lock"):
        champion = read_champion(experiment_dir)
        result = decide_gate(gate, report.metrics, champion, report.run_id)
        if result.passed and result.configured and model and result.value is not None:
            already = champion is not None and champion.run_id == report.run_id
            if not already:
                write_json_atomic(
                    experiment_dir / CHAMPION_FILE,
                    Champion(
                        experiment=report.experiment,
                        run_id=report.run_id,
                        model=model,
                        metric=result.metric or "",
                        value=result.value,
                        metrics=report.metrics,
                        previous_run_id=champion.run_id if champion else None,
                        previous_value=champion.metrics.get(result.metric or "")
                        if champion
                        else None,
                    ).model_dump(mode="json"),
                )
                result.reasons.append(f"promoted: {model} is now the champion")
            result.promoted = True
    report.gate = result
    return result
