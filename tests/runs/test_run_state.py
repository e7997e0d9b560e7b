"""run.json tells the truth: timings of every attempt, validation metrics named for what they
measure, and report.json carrying the run's final status."""

from __future__ import annotations

import json
from pathlib import Path

from test_runs import make_config

from ftkit.results import ResultsSummary
from ftkit.runs import RunFolder, steps


def test_every_attempt_keeps_its_timings(tmp_path: Path) -> None:
    """A second attempt adds its own stage timings; the first attempt's stay."""
    config = make_config(tmp_path)
    folder = RunFolder.for_config(config)
    folder.start_attempt(config)
    with folder.timed("prepare"), folder.timed("upload"):
        pass
    folder.start_attempt(config)
    with folder.timed("follow"):
        pass
    state = folder.load_state()
    assert state.attempts == 2
    assert [sorted(t) for t in state.attempt_timings] == [["prepare", "upload"], ["follow"]]
    assert state.timings == state.attempt_timings[-1]


def test_validation_metrics_say_whether_they_cover_the_whole_set() -> None:
    """valid_* are the full validation set's; the last training batch's are last_batch_valid_*."""
    summary = ResultsSummary(
        schema_name="jobs",
        steps=10,
        final_train_loss=0.3,
        final_valid_loss=0.1,
        final_valid_accuracy=1.0,
        final_full_valid_loss=0.4,
        final_full_valid_accuracy=0.85,
    )
    assert steps.results_metrics(summary) == {
        "train_loss": 0.3,
        "valid_loss": 0.4,
        "valid_accuracy": 0.85,
        "last_batch_valid_loss": 0.1,
        "last_batch_valid_accuracy": 1.0,
    }


def test_report_json_gets_the_runs_final_status(tmp_path: Path) -> None:
    """The report is written while the run runs; once it succeeds, report.json says so."""
    config = make_config(tmp_path)
    folder = RunFolder.for_config(config)
    folder.start_attempt(config)
    (folder.path / "report.json").write_text(json.dumps({"status": "running", "run_id": "x"}))
    folder.succeed()
    steps.settle_report_status(folder)
    report = json.loads((folder.path / "report.json").read_text())
    assert report == {"status": "succeeded", "run_id": "x"}
