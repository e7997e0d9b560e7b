"""`ftkit prepare`: exit codes, the human summary, JSON output, config and overrides."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ftkit.cli import app

from .prep_helpers import jsonl, pc_lines

runner = CliRunner()


def write(tmp_path: Path, rows: list[object], name: str = "data.jsonl") -> Path:
    """A data file in tmp_path."""
    path = tmp_path / name
    path.write_bytes(jsonl(rows))
    return path


def test_clean_data_exits_0_with_a_summary(tmp_path: Path) -> None:
    """Clean data: exit 0, splits and tokens in the summary, files in --out."""
    data = write(tmp_path, pc_lines(50))
    result = runner.invoke(app, ["prepare", str(data), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert f"{data}: 50 examples in 50 lines" in result.stdout
    assert "splits: train 38" in result.stdout and "billed per epoch" in result.stdout
    assert (tmp_path / "p" / "train.jsonl").exists() and (
        tmp_path / "p" / "validation.json"
    ).exists()


def test_remaining_errors_exit_1_and_suggest_fixes(tmp_path: Path) -> None:
    """Errors left: exit 1, the lines in the summary, a fix command, one line on stderr."""
    data = write(tmp_path, [*pc_lines(50), "{broken"])
    result = runner.invoke(app, ["prepare", str(data), "--out", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "invalid_json [lines 51]" in result.stdout
    assert "--fix drop-invalid" in result.stdout
    assert result.stderr.startswith("error: 1 error remains")
    fixed = runner.invoke(
        app, ["prepare", str(data), "--out", str(tmp_path / "p"), "--fix", "drop-invalid"]
    )
    assert fixed.exit_code == 0, fixed.output


def test_usage_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    """A missing file, an unknown fix and bad split fractions are usage errors (exit 2)."""
    missing = runner.invoke(app, ["prepare", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "not found" in missing.stderr
    assert "Traceback" not in missing.output
    data = write(tmp_path, pc_lines(50))
    assert runner.invoke(app, ["prepare", str(data), "--fix", "polish"]).exit_code == 2
    assert runner.invoke(app, ["prepare", str(data), "--split", "0.5,0.1"]).exit_code == 2
    assert runner.invoke(app, ["prepare", str(data), "--split", "a,b"]).exit_code == 2


def test_json_output_is_the_prepared_data(tmp_path: Path) -> None:
    """--format json prints the same document as validation.json."""
    data = write(tmp_path, pc_lines(50))
    out = tmp_path / "p"
    result = runner.invoke(
        app, ["prepare", str(data), "--out", str(out), "--format", "json", "--no-tokens"]
    )
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed == json.loads((out / "validation.json").read_text())
    assert printed["tokens"]["counted"] is False


def test_flags_split_seed_and_model(tmp_path: Path) -> None:
    """--split with two fractions means no test split; --model picks the encoding."""
    chat = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(50)
    ]
    data = write(tmp_path, chat)  # gpt-4o-mini trains on chat data
    result = runner.invoke(
        app,
        [
            "prepare",
            str(data),
            "--out",
            str(tmp_path / "p"),
            "--split",
            "0.9,0.1",
            "--seed",
            "3",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--format",
            "json",
        ],
    )
    printed = json.loads(result.stdout)
    assert set(printed["splits"]) == {"train", "validation"}
    assert (printed["seed"], printed["tokens"]["encoding"]) == (3, "o200k_base")


def test_config_file_and_overrides(tmp_path: Path) -> None:
    """--config supplies source, model and epochs; key=value overrides apply on top."""
    data = write(tmp_path, pc_lines(50))
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"name: demo\ndata:\n  source: {data.name}\njob:\n  model: davinci-002\n"
        "  hyperparameters:\n    n_epochs: 2\n"
    )
    result = runner.invoke(
        app,
        [
            "prepare",
            "--config",
            str(config),
            "data.split.seed=9",
            "--out",
            str(tmp_path / "p"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["model"], printed["seed"], printed["cost"]["n_epochs"]) == ("davinci-002", 9, 2)
    assert printed["cost"]["n_epochs_assumed"] is False


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    data = write(tmp_path, pc_lines(1))
    result = runner.invoke(app, ["prepare", str(data), "--out", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert f"{data}: 1 example in 1 line " in result.stdout
    assert "Only 1 training example;" in result.stdout
    assert "The file has 1 usable example (1 kept" in result.stdout
