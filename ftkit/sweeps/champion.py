"""The champion gate of a sweep follows the ranking: only the rank-1 trial may become the
experiment's champion (through the configured gate, against the current champion); every
other trial's report says where it ranked instead of racing on finishing order."""

from __future__ import annotations

from pathlib import Path

from ftkit.config import ExperimentConfig
from ftkit.report.gate import apply_gate
from ftkit.report.model import GateResult, read_report
from ftkit.report.write import write_report
from ftkit.sweeps.leaderboard import Leaderboard


def settle_champion(board: Leaderboard, config: ExperimentConfig, runs_dir: Path) -> bool:
    """Apply the gate to the sweep's winner (promoting it when it passes) and mark the other
    finished trials as not chosen; rewrites their reports. Returns whether the winner passed."""
    gate = config.evaluate.gate
    experiment_dir = runs_dir / board.experiment
    best = board.best
    passed = False
    for row in board.rows:
        path = experiment_dir / row.run_id / "report.json"
        if gate is None or not path.is_file():
            continue
        report = read_report(path)
        if best is not None and row.run_id == best.run_id:
            passed = apply_gate(report, experiment_dir).passed
        else:
            place = (
                f"ranked {row.rank} of {len(board.rows)}"
                if row.rank
                else f"not ranked ({row.status})"
            )
            winner = best.run_id if best else "none"
            report.gate = GateResult(
                configured=True,
                metric=gate.metric,
                value=report.metrics.get(gate.metric),
                min=gate.min,
                beat_champion=gate.beat_champion,
                passed=False,
                reasons=[
                    f"not the sweep's pick: {place} in sweep {board.sweep_id} by "
                    f"{board.metric} on the validation split; only the winner ({winner}) "
                    "is a champion candidate"
                ],
            )
        write_report(report, experiment_dir / row.run_id)
    return passed
