"""`ftkit runs list|show` read the index and run folders; `ftkit run` answers up-to-date runs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ftkit.cli import app
from ftkit.config import load_config
from ftkit.runs import RunFolder

ROOT = Path(__file__).resolve().parents[2]


def finished_run(tmp_path: Path) -> tuple[list[str], RunFolder]:
    data = tmp_path / "data.jsonl"
    data.write_text('{"prompt": "a ->", "completion": " b\\n"}\n', encoding="utf-8")
    args = [f"data.source={data}", f"runs_dir={tmp_path / 'runs'}"]
    config = load_config(ROOT / "configs" / "quickstart.yaml", args)
    folder = RunFolder.for_config(config)
    folder.start_attempt(config)
    folder.update(job_id="ftjob-7", fine_tuned_model="ft:babbage-002:x", metrics={"f1_macro": 0.9})
    folder.succeed()
    return args, folder


def test_runs_list_and_show(tmp_path: Path) -> None:
    """The index lists the run with its model and metric; show prints the run's state."""
    _, folder = finished_run(tmp_path)
    runs_dir = str(tmp_path / "runs")
    listed = CliRunner().invoke(app, ["runs", "list", "--runs-dir", runs_dir])
    assert listed.exit_code == 0
    assert "ft:babbage-002:x  f1_macro=0.9" in listed.stdout
    run_id = folder.load_state().run_id
    shown = CliRunner().invoke(
        app, ["runs", "show", run_id[:5], "--runs-dir", runs_dir, "--format", "json"]
    )
    assert shown.exit_code == 0
    payload = json.loads(shown.stdout)
    assert (payload["state"]["status"], payload["state"]["job_id"]) == ("succeeded", "ftjob-7")
    assert "run.json" in payload["files"]


def test_unknown_run_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A run id that is not in the index is a clear error, not a traceback."""
    result = CliRunner().invoke(app, ["runs", "show", "nope", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no run 'nope'")


def test_finished_run_is_up_to_date_without_prefect(tmp_path: Path) -> None:
    """Re-running a succeeded config prints 'up to date' and exits 0 without running a flow."""
    args, folder = finished_run(tmp_path)
    result = CliRunner().invoke(app, ["run", str(ROOT / "configs" / "quickstart.yaml"), *args])
    assert result.exit_code == 0
    assert f"{folder.path}  (up to date)" in result.stdout
