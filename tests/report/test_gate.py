"""The quality gate decides pass/fail with reasons; a passing run becomes the champion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ftkit.config import ExperimentConfig, GateConfig
from ftkit.report import apply_gate, build_report, decide_gate, read_champion, render_markdown
from ftkit.report.gate import Champion

MakeRun = Callable[..., tuple[Path, ExperimentConfig]]


def champion(value: float, run_id: str = "old") -> Champion:
    return Champion(
        experiment="e",
        run_id=run_id,
        model="ft:old",
        metric="f1_macro",
        value=value,
        metrics={"f1_macro": value, "log_loss": 0.5},
    )


def test_no_gate_configured_promotes_nothing() -> None:
    """Without evaluate.gate the result says so and does not pass."""
    result = decide_gate(None, {"f1_macro": 0.9}, None, "r")
    assert not result.configured and not result.passed


def test_minimum_and_champion_both_checked() -> None:
    """The metric must reach min and beat the champion; every failure is a reason."""
    gate = GateConfig(metric="f1_macro", min=0.8, beat_champion=True)
    passed = decide_gate(gate, {"f1_macro": 0.85}, champion(0.82), "new")
    assert passed.passed and passed.champion_value == 0.82
    low = decide_gate(gate, {"f1_macro": 0.75}, champion(0.7), "new")
    assert not low.passed and "needs at least 0.8" in low.reasons[0]
    beaten = decide_gate(gate, {"f1_macro": 0.85}, champion(0.9), "new")
    assert not beaten.passed and "vs champion old 0.9000" in beaten.reasons[0]


def test_lower_is_better_metrics_use_min_as_a_ceiling() -> None:
    """For log_loss the value must be at most `min` and below the champion's."""
    gate = GateConfig(metric="log_loss", min=0.6, beat_champion=True)
    assert decide_gate(gate, {"log_loss": 0.4}, champion(0.9), "new").passed
    assert not decide_gate(gate, {"log_loss": 0.7}, None, "new").passed
    assert not decide_gate(gate, {"log_loss": 0.55}, champion(0.9), "new").passed


def test_unknown_metric_fails_and_lists_the_known_ones() -> None:
    """A typo in gate.metric fails with the available names."""
    result = decide_gate(GateConfig(metric="f1-macro"), {"f1_macro": 0.9}, None, "r")
    assert not result.passed and "available: f1_macro" in result.reasons[0]


def test_passing_run_becomes_champion_and_records_why(make_run: MakeRun) -> None:
    """apply_gate writes champion.json (model, run id, metrics) and the report shows PASS."""
    run_dir, config = make_run("run1", gate={"metric": "f1_macro", "min": 0.5})
    report = build_report(run_dir, config)
    result = apply_gate(report, run_dir.parent)
    assert result.passed and result.promoted and report.gate == result
    saved = read_champion(run_dir.parent)
    assert saved is not None and saved.run_id == "run1"
    assert saved.model == "ft:babbage-002:ftkit::run1" and saved.metrics == report.metrics
    assert "## Quality gate: PASS — champion" in render_markdown(report)


def test_worse_run_does_not_replace_the_champion(make_run: MakeRun) -> None:
    """A later run below the champion fails the gate and leaves champion.json alone."""
    first_dir, config = make_run("run1", accuracy=0.95, gate={"metric": "f1_macro"})
    apply_gate(build_report(first_dir, config), first_dir.parent)
    second_dir, _ = make_run("run2", accuracy=0.3, gate={"metric": "f1_macro"})
    report = build_report(second_dir, config)
    result = apply_gate(report, second_dir.parent)
    assert not result.passed and not result.promoted
    assert read_champion(second_dir.parent).run_id == "run1"  # type: ignore[union-attr]
    assert "## Quality gate: FAIL" in render_markdown(report)


def test_rebuilding_the_champion_run_keeps_it_champion(make_run: MakeRun) -> None:
    """Re-applying the gate to the champion's own run passes without a new promotion."""
    run_dir, config = make_run("run1", gate={"metric": "f1_macro"})
    apply_gate(build_report(run_dir, config), run_dir.parent)
    before = (run_dir.parent / "champion.json").read_bytes()
    result = apply_gate(build_report(run_dir, config), run_dir.parent)
    assert result.passed and "this run is the champion" in result.reasons
    assert (run_dir.parent / "champion.json").read_bytes() == before
