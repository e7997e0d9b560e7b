"""`ftkit report RUN` rebuilds the report from the run folder alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from ftkit.cli import app
from ftkit.config import ExperimentConfig

MakeRun = Callable[..., tuple[Path, ExperimentConfig]]


def test_report_command_rebuilds_from_a_folder_path(make_run: MakeRun) -> None:
    """Given a folder, the command writes report.{json,md,html} and prints the gate and metrics."""
    run_dir, _ = make_run(gate={"metric": "f1_macro", "min": 0.5})
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "gate: PASS" in result.output and "f1_macro" in result.output
    for name in ("report.json", "report.md", "report.html"):
        assert (run_dir / name).is_file()
    assert not (run_dir.parent / "champion.json").exists()  # no promotion unless asked


def test_report_command_promotes_when_asked_and_prints_json(make_run: MakeRun) -> None:
    """--promote applies the gate; --format json prints files, gate and metrics."""
    run_dir, _ = make_run(gate={"metric": "f1_macro", "min": 0.5})
    result = CliRunner().invoke(app, ["report", str(run_dir), "--promote", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["gate"]["promoted"] is True and payload["metrics"]["accuracy"] > 0
    assert (run_dir.parent / "champion.json").is_file()


def test_report_command_on_an_unknown_run_is_a_clean_error(tmp_path: Path) -> None:
    """An unknown run id prints one error line and exits non-zero, with no traceback."""
    result = CliRunner().invoke(app, ["report", "nope", "--runs-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "error:" in result.output and "Traceback" not in result.output
