"""The data's format, the base model and the dialect are checked together before anything is
uploaded: `ftkit prepare` and `ftkit config validate` say which model or dialect fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ftkit.cli import app
from ftkit.data.catalog import model_fit_problem

CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
PROMPT = {"prompt": "hi ->", "completion": " yo\n"}


@pytest.mark.parametrize(
    ("shape", "model", "dialect", "fits"),
    [
        ("prompt_completion", "babbage-002", "jobs", None),
        ("chat", "gpt-4o-mini-2024-07-18", "jobs", None),
        ("prompt_completion", "curie", "legacy", None),
        ("chat", "babbage-002", "jobs", "gpt-4o-mini"),
        ("prompt_completion", "gpt-3.5-turbo-0125", "jobs", "babbage-002"),
        ("chat", "curie", "legacy", "provider.dialect: jobs"),
        ("chat", "gpt-4o-mini-2024-07-18", "legacy", "provider.dialect: jobs"),
        ("prompt_completion", "davinci-002", "legacy", None),  # the transition's models
        ("prompt_completion", "gpt-3.5-turbo-0125", "legacy", "provider.dialect: jobs"),
        ("prompt_completion", "curie", "jobs", "provider.dialect: legacy"),
        ("chat", "my-own-model", "jobs", None),  # another provider's model: no opinion
        (None, "babbage-002", "jobs", None),  # data unknown: model and dialect agree
    ],
)
def test_model_data_and_dialect_fit(
    shape: str | None, model: str, dialect: str, fits: str | None
) -> None:
    """Each mismatch names what would fit; matching combinations pass."""
    problem = model_fit_problem(shape, model, dialect)
    if fits is None:
        assert problem is None
    else:
        assert problem is not None and fits in problem


def write_config(tmp_path: Path, record: dict[str, object], model: str, dialect: str) -> Path:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(record) + "\n" for _ in range(20)))
    config = tmp_path / "experiment.yaml"
    config.write_text(
        f"name: fit\ndata:\n  source: {data}\njob:\n  model: {model}\n"
        f"provider:\n  dialect: {dialect}\nruns_dir: {tmp_path / 'runs'}\n"
    )
    return config


def test_config_validate_refuses_chat_data_for_a_completion_model(tmp_path: Path) -> None:
    """Chat data with babbage-002: exit 2, the data file named, a chat model proposed."""
    config = write_config(tmp_path, CHAT, "babbage-002", "jobs")
    result = CliRunner().invoke(app, ["config", "validate", str(config)])
    assert result.exit_code == 2
    assert "data.jsonl" in result.stderr and "gpt-4o-mini" in result.stderr
    ok = write_config(tmp_path, PROMPT, "babbage-002", "jobs")
    assert CliRunner().invoke(app, ["config", "validate", str(ok)]).exit_code == 0


def test_prepare_flags_chat_data_on_the_legacy_dialect(tmp_path: Path) -> None:
    """`ftkit prepare -c` reports the mismatch as an error finding and writes no splits."""
    config = write_config(tmp_path, CHAT, "gpt-4o-mini-2024-07-18", "legacy")
    out = tmp_path / "prepared"
    result = CliRunner().invoke(
        app, ["prepare", "-c", str(config), "--out", str(out), "--format", "json"]
    )
    assert result.exit_code == 1
    prepared = json.loads(result.stdout)
    [finding] = [f for f in prepared["findings"] if f["code"] == "model_data_mismatch"]
    assert finding["severity"] == "error" and "provider.dialect: jobs" in finding["message"]
    assert not (out / "train.jsonl").exists()
